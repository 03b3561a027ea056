"""The pipeline's contract, one behaviour per test, with fakes that record what really ran."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from corefakes import (
    FakePolicy,
    FakeRisk,
    FilePatches,
    RecordingCommands,
    ScriptedLink,
    Trace,
    cmd,
    net,
    patch,
)

from app.core.audit import AuditLog
from app.core.events import ActionStateChanged, PipelineEvent
from app.core.model import ResultStatus, Verdict, VerdictKind
from app.core.pipeline import ActionState, Pipeline, PipelineError
from app.core.ports import SessionContext


@dataclass
class Rig:
    pipeline: Pipeline
    commands: RecordingCommands
    patches: FilePatches
    policy: FakePolicy
    trace: Trace
    events: list[PipelineEvent]


def rig(
    workspace: Path,
    *,
    headless: bool = False,
    reckless: bool = False,
    audit: AuditLog | None = None,
) -> Rig:
    trace = Trace()
    commands = RecordingCommands(trace)
    patches = FilePatches(workspace, trace)
    policy = FakePolicy(reckless=reckless)
    events: list[PipelineEvent] = []

    class Collect:
        def notify(self, event: PipelineEvent) -> None:
            events.append(event)

    p = Pipeline(
        context=SessionContext(workspace=workspace, headless=headless),
        risk=FakeRisk(),
        policy=policy,
        commands=commands,
        patches=patches,
        observers=[trace, Collect()],
        audit=audit,
    )
    return Rig(p, commands, patches, policy, trace, events)


class Human:
    """Answers waiting actions with `answer(view) -> Verdict | None` whenever one is waiting."""

    def __init__(self, r: Rig, answer: Callable[[str], Verdict | None]) -> None:
        self.r = r
        self.answer = answer
        r.pipeline.add_observer(self)
        self.todo: list[str] = []

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
            # answer later, from the loop, like a person pressing a key
            asyncio.get_running_loop().call_soon(self._answer, event.action_id)

    def _answer(self, action_id: str) -> None:
        v = self.answer(action_id)
        if v is not None:
            self.r.pipeline.submit_verdict(v)


async def test_safe_actions_auto_approved_run_in_order(workspace: Path) -> None:
    r = rig(workspace)
    a, b = cmd("echo a"), cmd("echo b")
    link = ScriptedLink([[a, b]])
    await r.pipeline.run(link)
    assert r.commands.ran == [(a.id, "echo a"), (b.id, "echo b")]
    res = link.results["t1"]
    assert [x.action_id for x in res] == [a.id, b.id]
    assert all(x.status is ResultStatus.COMPLETED for x in res)
    assert [x.ran for x in res] == ["echo a", "echo b"]
    assert r.pipeline.view(a.id).state is ActionState.DONE
    assert r.pipeline.view(a.id).verdict is not None
    assert r.pipeline.view(a.id).verdict.by == "policy"  # type: ignore[union-attr]


async def test_later_auto_approved_action_waits_for_earlier_verdict(workspace: Path) -> None:
    r = rig(workspace)
    first, second = cmd("ASK rm thing"), cmd("echo after")
    link = ScriptedLink([[first, second]])
    task = asyncio.create_task(r.pipeline.run(link))
    for _ in range(20):
        await asyncio.sleep(0)
    assert r.pipeline.view(first.id).state is ActionState.WAITING
    assert r.pipeline.view(second.id).state is ActionState.AUTO_APPROVED
    assert r.commands.ran == []  # the approved second one waits for the first
    assert [v.action.id for v in r.pipeline.waiting()] == [first.id]
    r.pipeline.submit_verdict(Verdict(first.id, VerdictKind.APPROVE, key="y"))
    await asyncio.wait_for(task, 5)
    assert [x[0] for x in r.commands.ran] == [first.id, second.id]


async def test_denied_by_human_never_runs_and_later_actions_still_get_verdicts(
    workspace: Path,
) -> None:
    r = rig(workspace)
    a, b, c = cmd("ASK one"), cmd("ASK two"), cmd("echo three")
    Human(
        r,
        lambda aid: (
            Verdict(aid, VerdictKind.DENY_FEEDBACK, feedback="not that")
            if aid == a.id
            else Verdict(aid, VerdictKind.APPROVE)
        ),
    )
    link = ScriptedLink([[a, b, c]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert [x[0] for x in r.commands.ran] == [b.id, c.id]
    res = link.results["t1"]
    assert res[0].status is ResultStatus.DENIED and res[0].feedback == "not that"
    assert res[0].ran is None
    assert "not that" in res[0].message
    assert [x.status for x in res[1:]] == [ResultStatus.COMPLETED] * 2


async def test_policy_deny_never_runs(workspace: Path) -> None:
    r = rig(workspace)
    a = cmd("POLICY-DENY curl x")
    link = ScriptedLink([[a]])
    await r.pipeline.run(link)
    assert r.commands.ran == []
    (res,) = link.results["t1"]
    assert res.status is ResultStatus.DENIED and "test:deny" in res.message
    assert "the test said no" in res.message


async def test_edit_runs_exactly_the_edited_text_and_tells_the_agent(workspace: Path) -> None:
    r = rig(workspace)
    a = cmd("ASK rm -rf build/", call_id="call_7")
    edited = "rm -rf build/cache  # narrower"
    Human(r, lambda aid: Verdict(aid, VerdictKind.EDIT, edited=edited, key="e"))
    link = ScriptedLink([[a]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert r.commands.ran == [(a.id, edited)]
    (res,) = link.results["t1"]
    assert res.ran == edited and res.call_id == "call_7"
    assert edited in res.message and "edited" in res.message
    assert r.trace.of("started") == [(a.id, edited)]


async def test_critical_is_never_auto_approved_even_by_a_reckless_policy(workspace: Path) -> None:
    r = rig(workspace, reckless=True)
    a = cmd("CRIT dd of=/dev/sda")
    link = ScriptedLink([[a]])
    task = asyncio.create_task(r.pipeline.run(link))
    for _ in range(10):
        await asyncio.sleep(0)
    v = r.pipeline.view(a.id)
    assert v.state is ActionState.WAITING
    assert v.decision is not None and v.decision.rule == "core:critical-always-asked"
    r.pipeline.submit_verdict(Verdict(a.id, VerdictKind.DENY))
    await asyncio.wait_for(task, 5)
    assert r.commands.ran == []


async def test_risk_engine_failure_is_treated_as_critical(workspace: Path) -> None:
    r = rig(workspace, reckless=True)
    a = cmd("RISK-RAISES ls")
    link = ScriptedLink([[a]])
    task = asyncio.create_task(r.pipeline.run(link))
    for _ in range(10):
        await asyncio.sleep(0)
    assert r.pipeline.view(a.id).state is ActionState.WAITING
    r.pipeline.submit_verdict(Verdict(a.id, VerdictKind.APPROVE))
    await asyncio.wait_for(task, 5)
    assert r.commands.ran == [(a.id, "RISK-RAISES ls")]


async def test_headless_denies_what_would_be_asked_and_tells_why(workspace: Path) -> None:
    r = rig(workspace, headless=True)
    a, b, c = cmd("ASK make deploy"), cmd("echo ok"), cmd("CRIT x")
    link = ScriptedLink([[a, b, c]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert r.commands.ran == [(b.id, "echo ok")]
    res = link.results["t1"]
    assert res[0].status is ResultStatus.DENIED
    assert "headless" in res[0].message and "looks risky" in res[0].message
    assert res[2].status is ResultStatus.DENIED


async def test_headless_with_reckless_policy_still_denies_critical(workspace: Path) -> None:
    r = rig(workspace, headless=True, reckless=True)
    a = cmd("CRIT rm -rf ~")
    link = ScriptedLink([[a]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert r.commands.ran == []
    assert link.results["t1"][0].status is ResultStatus.DENIED


async def test_submit_verdict_rejects_unknown_and_not_waiting(workspace: Path) -> None:
    r = rig(workspace)
    a, p = cmd("echo safe"), patch("x.txt=hi")
    q = patch("y.txt=ASK")
    link = ScriptedLink([[a, p, q]])
    task = asyncio.create_task(r.pipeline.run(link))
    for _ in range(10):
        await asyncio.sleep(0)
    with pytest.raises(PipelineError, match="no action"):
        r.pipeline.submit_verdict(Verdict("cmd-nope", VerdictKind.APPROVE))
    with pytest.raises(PipelineError, match="not waiting"):
        r.pipeline.submit_verdict(Verdict(a.id, VerdictKind.APPROVE))
    with pytest.raises(PipelineError, match="only a command"):
        r.pipeline.submit_verdict(Verdict(q.id, VerdictKind.EDIT, edited="z"))
    r.pipeline.submit_verdict(Verdict(q.id, VerdictKind.APPROVE))
    await asyncio.wait_for(task, 5)
    with pytest.raises(PipelineError, match="not waiting"):
        r.pipeline.submit_verdict(Verdict(q.id, VerdictKind.DENY))
    assert (workspace / "x.txt").read_text() == "hi"
    assert (workspace / "y.txt").read_text() == "ASK"


async def test_empty_edit_is_refused(workspace: Path) -> None:
    r = rig(workspace)
    a = cmd("ASK x")
    link = ScriptedLink([[a]])
    task = asyncio.create_task(r.pipeline.run(link))
    for _ in range(10):
        await asyncio.sleep(0)
    with pytest.raises(PipelineError, match="empty"):
        r.pipeline.submit_verdict(Verdict(a.id, VerdictKind.EDIT, edited="  "))
    r.pipeline.submit_verdict(Verdict(a.id, VerdictKind.DENY))
    await asyncio.wait_for(task, 5)


async def test_patch_review_failure_fails_without_a_human(workspace: Path) -> None:
    r = rig(workspace)
    p = patch("BAD patch")
    link = ScriptedLink([[p]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    (res,) = link.results["t1"]
    assert res.status is ResultStatus.FAILED and "does not apply" in res.message
    assert r.patches.applied == []
    assert r.pipeline.view(p.id).review is not None


async def test_executor_failure_fails_that_action_only(workspace: Path) -> None:
    r = rig(workspace)
    a, b = cmd("echo EXPLODE"), cmd("echo fine")
    link = ScriptedLink([[a, b]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    res = link.results["t1"]
    assert res[0].status is ResultStatus.FAILED and "sandbox refused" in res[0].message
    assert res[1].status is ResultStatus.COMPLETED
    assert r.pipeline.view(a.id).state is ActionState.FAILED


async def test_observer_exceptions_do_not_break_the_pipeline(workspace: Path) -> None:
    r = rig(workspace)

    class Broken:
        def notify(self, event: PipelineEvent) -> None:
            raise RuntimeError("observer bug")

    r.pipeline.add_observer(Broken())
    a = cmd("echo a")
    link = ScriptedLink([[a]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert link.results["t1"][0].status is ResultStatus.COMPLETED


async def test_reentrant_observer_keeps_event_order_for_everyone(workspace: Path) -> None:
    r = rig(workspace)
    seen: list[PipelineEvent] = []

    class ApproveAtOnce:
        def notify(self, event: PipelineEvent) -> None:
            if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
                r.pipeline.submit_verdict(Verdict(event.action_id, VerdictKind.APPROVE))

    class Last:
        def notify(self, event: PipelineEvent) -> None:
            seen.append(event)

    r.pipeline.add_observer(ApproveAtOnce())
    r.pipeline.add_observer(Last())
    a = cmd("ASK x")
    link = ScriptedLink([[a]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    states = [e.state for e in seen if isinstance(e, ActionStateChanged)]
    assert states == [
        ActionState.WAITING,
        ActionState.APPROVED,
        ActionState.RUNNING,
        ActionState.DONE,
    ]
    assert seen == r.events[: len(seen)] or seen == r.events


async def test_cancel_stops_running_and_cancels_the_rest(workspace: Path) -> None:
    r = rig(workspace)
    a, b, c = cmd("echo first"), cmd("BLOCK sleep"), cmd("echo third")
    link = ScriptedLink([[a, b, c]])
    task = asyncio.create_task(r.pipeline.run(link))
    for _ in range(50):
        await asyncio.sleep(0)
        if b.id in [x[0] for x in r.commands.ran]:
            break
    for _ in range(3):  # let the fake reach its blocking wait
        await asyncio.sleep(0)
    assert r.pipeline.view(b.id).state is ActionState.RUNNING
    await r.pipeline.cancel()
    await asyncio.wait_for(task, 5)
    res = link.results["t1"]
    assert [x.status for x in res] == [
        ResultStatus.COMPLETED,
        ResultStatus.CANCELLED,
        ResultStatus.CANCELLED,
    ]
    assert res[1].ran == "BLOCK sleep" and res[2].ran is None
    assert r.commands.cancelled == [b.id]
    assert [x[0] for x in r.commands.ran] == [a.id, b.id]


async def test_cancel_while_waiting_for_a_verdict(workspace: Path) -> None:
    r = rig(workspace)
    a, b = cmd("ASK one"), cmd("echo two")
    link = ScriptedLink([[a, b]])
    task = asyncio.create_task(r.pipeline.run(link))
    for _ in range(10):
        await asyncio.sleep(0)
    await r.pipeline.cancel()
    await asyncio.wait_for(task, 5)
    assert r.commands.ran == []
    assert [x.status for x in link.results["t1"]] == [ResultStatus.CANCELLED] * 2
    with pytest.raises(PipelineError):
        r.pipeline.submit_verdict(Verdict(a.id, VerdictKind.APPROVE))


async def test_ask_network_policy_human_timeout_and_headless(workspace: Path) -> None:
    r = rig(workspace)
    allowed = await r.pipeline.ask_network(net("pypi.org"))
    assert allowed.kind is VerdictKind.APPROVE and allowed.by == "policy"

    ask = net("HIGH.example.com")
    fut = asyncio.ensure_future(r.pipeline.ask_network(ask, timeout_s=5))
    for _ in range(5):
        await asyncio.sleep(0)
    assert [v.action.id for v in r.pipeline.waiting()] == [ask.id]
    assert r.pipeline.batches()[-1].actions == (ask,)
    r.pipeline.submit_verdict(Verdict(ask.id, VerdictKind.APPROVE, key="y"))
    assert (await fut).kind is VerdictKind.APPROVE

    slow = net("HIGH.slow.example")
    v = await r.pipeline.ask_network(slow, timeout_s=0.05)
    assert v.kind is VerdictKind.DENY and v.key == "timeout"
    assert r.pipeline.view(slow.id).state is ActionState.DENIED

    h = rig(workspace, headless=True)
    hv = await h.pipeline.ask_network(net("HIGH.example.org"))
    assert hv.kind is VerdictKind.DENY and "headless" in hv.feedback


async def test_undo_last_patch(workspace: Path) -> None:
    r = rig(workspace)
    link = ScriptedLink([[patch("f.txt=new")]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert (workspace / "f.txt").read_text() == "new"
    res = await r.pipeline.undo_last_patch()
    assert res.status is ResultStatus.COMPLETED
    assert not (workspace / "f.txt").exists()


async def test_execution_start_is_on_disk_before_the_command_runs(
    workspace: Path, tmp_path: Path
) -> None:
    audit = AuditLog.create(workspace, path=tmp_path / "a.jsonl")
    r = rig(workspace, audit=audit)
    seen_on_disk: list[list[str]] = []
    real_run = r.commands.run

    async def run_and_look(action, command, on_output):  # type: ignore[no-untyped-def]
        lines = (tmp_path / "a.jsonl").read_text().splitlines()
        seen_on_disk.append([json.loads(x)["kind"] for x in lines])
        return await real_run(action, command, on_output)

    r.commands.run = run_and_look  # type: ignore[method-assign]
    a = cmd("ASK make")
    Human(r, lambda aid: Verdict(aid, VerdictKind.APPROVE, key="y"))
    link = ScriptedLink([[a]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    kinds = seen_on_disk[0]
    assert kinds[-2:] == ["verdict", "execution-start"]
    verdict = [
        json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines() if '"verdict"' in x
    ]
    assert verdict[0]["data"]["verdict"]["key"] == "y"


async def test_broken_audit_log_stops_execution(workspace: Path, tmp_path: Path) -> None:
    audit = AuditLog.create(workspace, path=tmp_path / "a.jsonl")
    r = rig(workspace, audit=audit)
    audit.close(clean=False)  # every later write fails
    a = cmd("echo would-run")
    link = ScriptedLink([[a]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert r.commands.ran == []
    (res,) = link.results["t1"]
    assert res.status is ResultStatus.FAILED and "audit log" in res.message
    assert r.pipeline.audit_failure


async def test_patch_pre_and_post_hashes_are_recorded(workspace: Path, tmp_path: Path) -> None:
    (workspace / "f.txt").write_text("old")
    audit = AuditLog.create(workspace, path=tmp_path / "a.jsonl")
    r = rig(workspace, audit=audit)
    link = ScriptedLink([[patch("f.txt=new")]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    recs = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    start = next(x for x in recs if x["kind"] == "execution-start")
    end = next(x for x in recs if x["kind"] == "execution-end")
    import hashlib

    assert start["data"]["pre"] == {"f.txt": hashlib.sha256(b"old").hexdigest()}
    assert end["data"]["post"] == {"f.txt": hashlib.sha256(b"new").hexdigest()}


async def test_proposal_after_turn_ended_never_runs(workspace: Path) -> None:
    r = rig(workspace)
    a = cmd("echo a", turn="t1")
    late = cmd("echo late", turn="t1")
    b = cmd("echo b", turn="t2")
    link = ScriptedLink([[a], [late, b]])
    await asyncio.wait_for(r.pipeline.run(link), 5)
    assert (late.id, "echo late") not in r.commands.ran
    assert r.pipeline.view(late.id).state is ActionState.FAILED


async def test_verdict_and_execution_start_are_fsynced_before_running(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    steps: list[str] = []
    real_fsync = os.fsync
    real_write = AuditLog.write

    def fsync(fd: int) -> None:
        steps.append("fsync")
        real_fsync(fd)

    def write(self: AuditLog, kind: str, data: object, *, sync: bool = True) -> object:
        steps.append(f"write:{kind}")
        return real_write(self, kind, data, sync=sync)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(AuditLog, "write", write)
    audit = AuditLog.create(workspace, path=tmp_path / "a.jsonl")
    r = rig(workspace, audit=audit)
    real_run = r.commands.run

    async def run_and_mark(action, command, on_output):  # type: ignore[no-untyped-def]
        steps.append("exec")
        return await real_run(action, command, on_output)

    r.commands.run = run_and_mark  # type: ignore[method-assign]
    Human(r, lambda aid: Verdict(aid, VerdictKind.APPROVE, key="y"))
    await asyncio.wait_for(r.pipeline.run(ScriptedLink([[cmd("ASK make")]])), 5)
    i = steps.index("exec")
    assert steps[i - 2 : i] == ["write:execution-start", "fsync"]
    v = steps.index("write:verdict")
    assert steps[v + 1] == "fsync" and v < i


async def test_cancel_denies_waiting_network_asks(workspace: Path) -> None:
    r = rig(workspace)
    fut = asyncio.ensure_future(r.pipeline.ask_network(net("HIGH.example.net"), timeout_s=30))
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(r.pipeline.waiting()) == 1
    await r.pipeline.cancel()
    v = await asyncio.wait_for(fut, 5)
    assert v.kind is VerdictKind.DENY and v.key == "cancel"
    assert r.pipeline.waiting() == []
