"""Seeding a pipeline with what a killed session left, in-process: the recovered turn and a new
agent's turns live side by side, recovered pending actions wait for a human, finished and
interrupted ones never run again."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from corefakes import FakePolicy, FakeRisk, FilePatches, RecordingCommands, ScriptedLink, cmd

from app.core.events import ActionStateChanged, AgentEvent, AgentEventSeen, AgentStatus, Proposed
from app.core.model import Result, ResultStatus, Verdict, VerdictKind
from app.core.pipeline import ActionState, FunctionObserver, Pipeline, PipelineError
from app.core.ports import SessionContext
from app.core.resume import INTERRUPTED_MESSAGE, RecoveredAction, RecoveredTurn, seed


def pipeline(workspace: Path, *, headless: bool = False) -> tuple[Pipeline, RecordingCommands]:
    commands = RecordingCommands()
    p = Pipeline(
        context=SessionContext(workspace=workspace, headless=headless),
        risk=FakeRisk(),
        policy=FakePolicy(),
        commands=commands,
        patches=FilePatches(workspace),
    )
    return p, commands


def recovered_turn() -> tuple[RecoveredTurn, list[str]]:
    done = cmd("echo done", turn="old")
    broke = cmd("echo broke", turn="old")
    pending = cmd("echo pending", turn="old")
    rt = RecoveredTurn(
        "old",
        (
            RecoveredAction(
                done,
                ActionState.DONE,
                result=Result(done.id, ResultStatus.COMPLETED, exit_code=0, ran=done.command),
            ),
            RecoveredAction(
                broke,
                ActionState.INTERRUPTED,
                result=Result(
                    broke.id, ResultStatus.FAILED, ran=broke.command, message=INTERRUPTED_MESSAGE
                ),
            ),
            RecoveredAction(pending, ActionState.WAITING),
        ),
    )
    return rt, [done.id, broke.id, pending.id]


async def test_recovered_pending_waits_then_runs_once(workspace: Path) -> None:
    p, commands = pipeline(workspace)
    rt, (done, broke, pending) = recovered_turn()
    seed(p, [rt])
    assert [v.action.id for v in p.waiting()] == [pending]
    assert p.view(done).recovered and p.view(broke).state is ActionState.INTERRUPTED
    with pytest.raises(PipelineError):
        p.submit_verdict(Verdict(broke, VerdictKind.APPROVE))
    new = cmd("echo new", turn="t-new")
    link = ScriptedLink([[new]])
    await asyncio.wait_for(p.run(link), 5)  # the new agent does not wait for the old turn
    assert commands.ran == [(new.id, "echo new")]
    p.submit_verdict(Verdict(pending, VerdictKind.APPROVE))
    await asyncio.wait_for(p.drain(), 5)
    assert commands.ran == [(new.id, "echo new"), (pending, "echo pending")]
    assert p.view(pending).state is ActionState.DONE
    assert [b.turn_id for b in p.batches()] == ["old", "t-new"]


async def test_seed_in_headless_denies_what_needs_a_human(workspace: Path) -> None:
    p, commands = pipeline(workspace, headless=True)
    rt, (_, _, pending) = recovered_turn()
    seed(p, [rt])
    await asyncio.wait_for(p.drain(), 5)
    assert p.view(pending).state is ActionState.DENIED
    assert commands.ran == []


async def test_seed_after_proposals_is_refused(workspace: Path) -> None:
    p, _ = pipeline(workspace)
    await p.run(ScriptedLink([[cmd("echo x")]]))
    with pytest.raises(PipelineError):
        seed(p, [])


async def test_cancel_reaches_recovered_turns(workspace: Path) -> None:
    p, commands = pipeline(workspace)
    rt, (_, _, pending) = recovered_turn()
    seed(p, [rt])
    await p.cancel()
    await asyncio.wait_for(p.drain(), 5)
    v = p.view(pending)
    assert v.state is ActionState.FAILED and v.result is not None
    assert v.result.status is ResultStatus.CANCELLED and commands.ran == []


class BrokenLink:
    """Proposes one action, then its stream fails (a dropped connection, say)."""

    def __init__(self) -> None:
        self.action = cmd("ASK wait for me", turn="t1")
        self.submitted: list[str] = []

    async def _events(self) -> AsyncIterator[AgentEvent]:
        yield Proposed(self.action)
        await asyncio.sleep(0)
        raise ConnectionError("stream dropped")

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        self.submitted.append(turn_id)

    async def cancel(self) -> None:
        pass


async def test_agent_stream_failure_cancels_its_open_turn(workspace: Path) -> None:
    p, commands = pipeline(workspace)
    link = BrokenLink()
    with pytest.raises(ConnectionError):
        await p.run(link)
    v = p.view(link.action.id)
    assert v.result is not None and v.result.status is ResultStatus.CANCELLED
    assert "agent stopped" in v.result.message
    await asyncio.wait_for(p.drain(), 5)
    assert commands.ran == [] and link.submitted == []


async def test_recovered_without_assessment_is_assessed_and_policy_denial_stands(
    workspace: Path,
) -> None:
    p, commands = pipeline(workspace)
    plain, denied = cmd("echo plain", turn="old"), cmd("POLICY-DENY curl", turn="old")
    seed(
        p,
        [
            RecoveredTurn(
                "old",
                (
                    RecoveredAction(plain, ActionState.WAITING),
                    RecoveredAction(denied, ActionState.WAITING),
                ),
            )
        ],
    )
    assert p.view(plain.id).assessment is not None and p.view(plain.id).state is ActionState.WAITING
    v = p.view(denied.id)
    assert (
        v.state is ActionState.DENIED and v.decision is not None and v.decision.rule == "test:deny"
    )
    with pytest.raises(PipelineError):
        p.submit_verdict(Verdict(denied.id, VerdictKind.APPROVE))
    p.submit_verdict(Verdict(plain.id, VerdictKind.APPROVE))
    await asyncio.wait_for(p.drain(), 5)
    assert commands.ran == [(plain.id, "echo plain")]


# --------------------------------------------------------------------------- a restored agent link


def reviewer(p: Pipeline) -> None:
    """Approves whatever waits, recovered actions included (they wait without an event)."""

    def approve(action_id: str) -> None:
        if p.view(action_id).state is ActionState.WAITING:
            p.submit_verdict(Verdict(action_id, VerdictKind.APPROVE, key="y"))

    class Approver:
        def notify(self, event: object) -> None:
            if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
                asyncio.get_running_loop().call_soon(approve, event.action_id)

    p.add_observer(Approver())
    for view in p.waiting():
        asyncio.get_running_loop().call_soon(approve, view.action.id)


async def test_a_restored_link_gets_the_recovered_turns_results(workspace: Path) -> None:
    """#18.5: the link proposes its interrupted turn again under the same ids; it gets the
    results of what ran before the crash, of what was interrupted, and of what waited."""
    p, commands = pipeline(workspace)
    rt, (done, broke, pending) = recovered_turn()
    seed(p, [rt])
    again = [p.view(i).action for i in (done, broke, pending)]
    later = cmd("echo later", turn="t-next")
    link = ScriptedLink([again, [later]])
    reviewer(p)
    await asyncio.wait_for(p.run(link), 5)
    assert link.order == ["old", "t-next"]
    got = link.results["old"]
    assert [r.action_id for r in got] == [done, broke, pending]
    assert [r.status for r in got] == [
        ResultStatus.COMPLETED,
        ResultStatus.FAILED,
        ResultStatus.COMPLETED,
    ]
    assert got[1].message == INTERRUPTED_MESSAGE
    assert commands.ran == [(pending, "echo pending"), (later.id, "echo later")]
    assert len(p.views()) == 4  # proposing again added no rows


async def test_what_the_crash_kept_from_the_log_is_reviewed_anew(workspace: Path) -> None:
    """Killed between two proposals: the one the log lacks is assessed and decided now."""
    p, commands = pipeline(workspace)
    first, second = cmd("echo first", turn="old"), cmd("POLICY-DENY echo second", turn="old")
    seed(p, [RecoveredTurn("old", (RecoveredAction(first, ActionState.WAITING),))])
    link = ScriptedLink([[first, second]])
    reviewer(p)
    await asyncio.wait_for(p.run(link), 5)
    assert [r.status for r in link.results["old"]] == [ResultStatus.COMPLETED, ResultStatus.DENIED]
    assert p.view(second.id).decision is not None and commands.ran == [(first.id, "echo first")]


async def test_a_turn_answered_before_the_crash_is_answered_again(workspace: Path) -> None:
    """Killed while the model's next answer was on its way: the results go to the link again."""
    p, commands = pipeline(workspace)
    done = cmd("echo done", turn="old")
    result = Result(done.id, ResultStatus.COMPLETED, exit_code=0, ran=done.command)
    seed(p, [RecoveredTurn("old", (RecoveredAction(done, ActionState.DONE, result=result),), True)])
    link = ScriptedLink([[done]])
    await asyncio.wait_for(p.run(link), 5)
    assert link.results["old"] == (result,) and commands.ran == []


async def test_a_restored_link_that_proposes_otherwise_is_stopped(workspace: Path) -> None:
    p, commands = pipeline(workspace)
    rt, (_, _, pending) = recovered_turn()
    seed(p, [rt])
    forged = dataclasses.replace(p.view(pending).action, command="rm -rf ~")
    seen: list[object] = []
    p.add_observer(FunctionObserver(seen.append))
    link = ScriptedLink([[forged]])
    task = asyncio.create_task(p.run(link))
    await asyncio.sleep(0.05)
    errors = [
        e.event for e in seen if isinstance(e, AgentEventSeen) and isinstance(e.event, AgentStatus)
    ]
    assert errors and "does not match the audit log" in errors[0].detail
    assert p.view(pending).action.reviewed_text == "echo pending" and commands.ran == []
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
