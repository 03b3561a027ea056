"""Seeding a pipeline with what a killed session left, in-process: the recovered turn and a new
agent's turns live side by side, recovered pending actions wait for a human, finished and
interrupted ones never run again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from corefakes import FakePolicy, FakeRisk, FilePatches, RecordingCommands, ScriptedLink, cmd

from app.core.events import AgentEvent, Proposed
from app.core.model import Result, ResultStatus, Verdict, VerdictKind
from app.core.pipeline import ActionState, Pipeline, PipelineError
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
    seed(p, 
        [
            RecoveredTurn(
                "old",
                (
                    RecoveredAction(plain, ActionState.WAITING),
                    RecoveredAction(denied, ActionState.WAITING),
                ),
            )
        ]
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
