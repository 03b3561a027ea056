"""The pipeline's invariants under random interleavings of proposals, verdicts and failures.

Hypothesis draws turns of actions (safe, asked, policy-denied, critical, failing, patches), the
human's verdict for each, how many loop turns pass between proposals, and in which order the
human answers what is waiting. After each run the shared trace must show:
  an action runs only after its verdict; a denied action never runs; actions of one turn run in
  proposal order and one at a time; results reach the agent in order, one per action; an edited
  command runs exactly as edited and the agent is told; critical is never auto-approved; headless
  never waits for a human; every approved action that could run ran exactly once; the audit log
  verifies.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from corefakes import FakePolicy, FakeRisk, FilePatches, RecordingCommands, ScriptedLink, Trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.audit import AuditLog
from app.core.model import (
    Action,
    CommandAction,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.pipeline import Pipeline
from app.core.ports import SessionContext
from app.core.verify import verify_log

KINDS = [
    "safe",
    "ask",
    "policy-deny",
    "crit",
    "explode",
    "patch",
    "ask-patch",
    "bad-patch",
    "risk",
    "block",
]
HUMAN = ["approve", "approve-session", "edit", "deny", "deny-feedback"]


@dataclass(frozen=True)
class Plan:
    turns: list[list[tuple[str, str]]]
    yields: list[int]
    picks: list[int]
    cancel_at: int | None
    reckless: bool
    headless: bool


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    turns = draw(
        st.lists(
            st.lists(
                st.tuples(st.sampled_from(KINDS), st.sampled_from(HUMAN)), min_size=1, max_size=5
            ),
            min_size=1,
            max_size=3,
        )
    )
    return Plan(
        turns=turns,
        yields=draw(st.lists(st.integers(0, 4), min_size=20, max_size=20)),
        picks=draw(st.lists(st.integers(0, 7), min_size=20, max_size=20)),
        cancel_at=draw(st.one_of(st.none(), st.integers(0, 12))),
        reckless=draw(st.booleans()),
        headless=draw(st.booleans()),
    )


def build_action(kind: str, turn: str, n: int) -> Action:
    text = {
        "safe": f"echo safe{n}",
        "ask": f"ASK make{n}",
        "policy-deny": f"POLICY-DENY curl{n}",
        "crit": f"CRIT wipe{n}",
        "explode": f"EXPLODE{n}",
        "risk": f"RISK-RAISES {n}",
        "block": f"BLOCK{n}",
    }
    if kind == "patch":
        return PatchAction(patch=f"f{n}.txt=v{n}", turn_id=turn)
    if kind == "ask-patch":
        return PatchAction(patch=f"g{n}.txt=ASK{n}", turn_id=turn)
    if kind == "bad-patch":
        return PatchAction(patch=f"BAD{n}", turn_id=turn)
    return CommandAction(command=text[kind], turn_id=turn, call_id=f"call{n}")


def verdict_for(action: Action, human: str) -> Verdict:
    if human == "edit" and isinstance(action, CommandAction):
        return Verdict(action.id, VerdictKind.EDIT, edited=f"edited {action.id}", key="e")
    kind = {
        "approve": VerdictKind.APPROVE,
        "approve-session": VerdictKind.APPROVE_SESSION,
        "edit": VerdictKind.APPROVE,
        "deny": VerdictKind.DENY,
        "deny-feedback": VerdictKind.DENY_FEEDBACK,
    }[human]
    return Verdict(action.id, kind, key="k", feedback="no" if human == "deny-feedback" else "")


async def play(plan: Plan, root: Path) -> None:
    ws = root / "ws"
    ws.mkdir()
    audit = AuditLog.create(ws, path=root / "audit.jsonl")
    trace = Trace()
    commands = RecordingCommands(trace)
    patches = FilePatches(ws, trace)
    pipeline = Pipeline(
        context=SessionContext(workspace=ws, headless=plan.headless),
        risk=FakeRisk(),
        policy=FakePolicy(reckless=plan.reckless),
        commands=commands,
        patches=patches,
        observers=[trace],
        audit=audit,
    )
    n = 0
    turns: list[list[Action]] = []
    human_of: dict[str, str] = {}
    for t, spec in enumerate(plan.turns):
        acts: list[Action] = []
        for kind, answer in spec:
            a = build_action(kind, f"turn{t}", n)
            human_of[a.id] = answer
            acts.append(a)
            n += 1
        turns.append(acts)
    link = ScriptedLink(turns, yields=plan.yields)
    given_verdicts: dict[str, Verdict] = {}
    asked_human = False
    cancelled_waiting: set[str] = set()  # had no result and was not running when cancel came
    cancelled_turns: set[str] = set()

    async def human() -> None:
        nonlocal asked_human
        i = 0
        while True:
            if i == plan.cancel_at:
                for av in pipeline.views():
                    if av.result is None and av.state.value != "running":
                        cancelled_waiting.add(av.action.id)
                        cancelled_turns.add(av.action.turn_id)
                await pipeline.cancel()
            if i == 25:
                commands.release.set()  # BLOCK commands finish from here on
            for _ in range(plan.picks[i % len(plan.picks)] % 4):
                await asyncio.sleep(0)
            waiting = pipeline.waiting()
            if waiting:
                asked_human = True
                view = waiting[plan.picks[i % len(plan.picks)] % len(waiting)]
                v = verdict_for(view.action, human_of[view.action.id])
                given_verdicts[view.action.id] = v
                pipeline.submit_verdict(v)
            i += 1
            await asyncio.sleep(0)

    person = asyncio.create_task(human())
    try:
        await asyncio.wait_for(pipeline.run(link), 10)
    finally:
        person.cancel()
    audit.close()

    # -- results reach the agent in order, one per action, each turn once, turns in order
    assert link.order == [t[0].turn_id for t in turns]
    results: dict[str, Result] = {}
    for acts in turns:
        got = link.results[acts[0].turn_id]
        assert [r.action_id for r in got] == [a.id for a in acts]
        results.update({r.action_id: r for r in got})

    items = trace.items
    pos = {(w, a): i for i, (w, a, _) in enumerate(items)}
    executed = [a for w, a, _ in items if w == "exec"]
    assert len(executed) == len(set(executed)), "something ran twice"
    verdicts = {a: k for w, a, k in items if w == "verdict"}

    for acts in turns:
        ran_here = [a.id for a in acts if a.id in executed]
        # proposal order within a turn
        assert ran_here == [x for x in executed if x in {a.id for a in acts}]
        for a in acts:
            r = results[a.id]
            v = verdicts.get(a.id)
            if a.id in executed:
                # runs only after an approving verdict, and after its start was announced
                assert v is not None and VerdictKind(v).approves
                assert pos[("verdict", a.id)] < pos[("started", a.id)] < pos[("exec", a.id)]
            if v is not None and not VerdictKind(v).approves:
                assert a.id not in executed
                assert r.status is ResultStatus.DENIED and r.ran is None
            text = a.reviewed_text
            if "CRIT" in text or "RISK-RAISES" in text:
                view = pipeline.view(a.id)
                assert (
                    view.verdict is None
                    or view.verdict.by == "human"
                    or not view.verdict.kind.approves
                )
            if plan.headless:
                assert a.id not in given_verdicts
            gv = given_verdicts.get(a.id)
            if gv is not None and gv.kind is VerdictKind.EDIT and a.id in executed:
                assert isinstance(a, CommandAction)
                assert (a.id, gv.edited) in commands.ran
                assert r.ran == gv.edited and "edited" in r.message
            elif isinstance(a, CommandAction) and a.id in executed:
                assert (a.id, a.command) in commands.ran
            # cancel: nothing that had not started yet runs, and it says CANCELLED
            if a.id in cancelled_waiting:
                assert a.id not in executed
                assert r.status is ResultStatus.CANCELLED and r.ran is None
            # whatever was approved and could run, ran exactly once
            if (
                v is not None
                and VerdictKind(v).approves
                and "BAD" not in text
                and r.status is not ResultStatus.CANCELLED
            ):
                assert a.id in executed
            if a.id in executed:
                ran_text = (
                    next(t for aid, t in commands.ran if aid == a.id)
                    if isinstance(a, CommandAction)
                    else None
                )
                if r.status is ResultStatus.CANCELLED:  # it was running when cancel came
                    assert plan.cancel_at is not None
                    assert isinstance(a, PatchAction) or r.ran == ran_text
                elif "EXPLODE" in text:
                    assert r.status is ResultStatus.FAILED
                else:
                    assert r.status is ResultStatus.COMPLETED
    if plan.headless:
        assert not asked_human

    # one action at a time
    running = 0
    for w, _, _ in items:
        if w == "started":
            running += 1
            assert running == 1
        elif w == "finished":
            running = max(0, running - 1)

    report = verify_log(root / "audit.jsonl")
    assert report.ok, report.problems


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(plans())
def test_pipeline_invariants_hold_for_random_interleavings(plan: Plan) -> None:
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(play(plan, Path(d)))
