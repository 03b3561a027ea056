"""Small honest fakes for the pipeline's ports: each one really records what it was asked to do,
so a test can check what ran, in which order, and with which text.

Conventions in command text (so scenarios read plainly):
  "CRIT"  → the fake risk engine scores it critical;  "HIGH" → high;  otherwise safe
  "POLICY-DENY" → the fake policy denies it;  "ASK" → the policy asks;  safe → allowed
  "EXPLODE" → the executor raises;  "BLOCK" → the executor blocks until released or cancelled
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.core.events import AgentEvent, PipelineEvent, Proposed, TurnEnded
from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    Finding,
    Level,
    NetworkAction,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
)
from app.core.ports import OutputSink, PatchReview, SessionContext


class FakeRisk:
    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[str, ...]]] = []

    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        self.seen.append((action.id, tuple(a.id for a in batch)))
        text = action.reviewed_text
        if "RISK-RAISES" in text:
            raise RuntimeError("risk engine exploded")
        if "CRIT" in text:
            return Assessment.from_findings([Finding(Category.DESTRUCTIVE, 95, "critical marker")])
        if "HIGH" in text:
            return Assessment.from_findings([Finding(Category.NETWORK, 70, "high marker")])
        return Assessment(score=0, level=Level.SAFE)


class FakePolicy:
    """Allows safe actions, asks otherwise; `reckless` allows everything (critical included)."""

    def __init__(self, *, reckless: bool = False) -> None:
        self.reckless = reckless
        self.remembered: list[Verdict] = []

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        text = action.reviewed_text
        if "POLICY-DENY" in text:
            return Decision(DecisionKind.DENY, rule="test:deny", reason="the test said no")
        if self.reckless:
            return Decision(DecisionKind.ALLOW, rule="test:reckless")
        if "ASK" in text or assessment.level > Level.SAFE:
            return Decision(DecisionKind.ASK, rule="test:ask", reason="looks risky")
        return Decision(DecisionKind.ALLOW, rule="test:safe")

    def remember(self, action: Action, verdict: Verdict) -> None:
        self.remembered.append(verdict)


@dataclass
class Trace:
    """One shared, ordered log of what observers saw and what executors did."""

    items: list[tuple[str, str, str]] = field(default_factory=list)  # (what, action_id, text)

    def notify(self, event: PipelineEvent) -> None:
        from app.core import events as ev

        if isinstance(event, ev.VerdictGiven):
            self.items.append(("verdict", event.verdict.action_id, event.verdict.kind.value))
        elif isinstance(event, ev.ExecutionStarted):
            self.items.append(("started", event.action_id, event.ran))
        elif isinstance(event, ev.ExecutionFinished):
            self.items.append(("finished", event.result.action_id, event.result.status.value))

    def of(self, what: str) -> list[tuple[str, str]]:
        return [(a, t) for w, a, t in self.items if w == what]


class RecordingCommands:
    """Runs nothing dangerous: records the exact command text, streams it back as output."""

    def __init__(self, trace: Trace | None = None) -> None:
        self.trace = trace or Trace()
        self.ran: list[tuple[str, str]] = []
        self.release = asyncio.Event()
        self.cancelled: list[str] = []

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        self.ran.append((action.id, command))
        self.trace.items.append(("exec", action.id, command))
        await asyncio.sleep(0)
        if "EXPLODE" in command:
            raise OSError("sandbox refused to start")
        if "BLOCK" in command:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(action.id)
                raise
        data = command.encode()
        on_output("stdout", data)
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            exit_code=0,
            stdout=data,
            stdout_total=len(data),
            ran=command,
        )


class FilePatches:
    """Patch text 'path=content' writes content to path in the workspace; 'BAD' fails review."""

    def __init__(self, workspace: Path, trace: Trace | None = None) -> None:
        self.workspace = workspace
        self.trace = trace or Trace()
        self.applied: list[str] = []
        self.undone: list[str] = []
        self._undo: list[tuple[str, Path, bytes | None]] = []

    def review(self, action: PatchAction) -> PatchReview:
        if "BAD" in action.patch:
            return PatchReview(action.id, ok=False, unified_diff="", error="hunk 1 does not apply")
        path, _, content = action.patch.partition("=")
        diff = f"--- a/{path}\n+++ b/{path}\n@@ -0,0 +1 @@\n+{content}\n"
        return PatchReview(action.id, ok=True, unified_diff=diff, files=((path, 1, 0),))

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        self.applied.append(action.id)
        self.trace.items.append(("exec", action.id, action.patch))
        path, _, content = action.patch.partition("=")
        target = self.workspace / path
        self._undo.append((action.id, target, target.read_bytes() if target.exists() else None))
        target.write_text(content)
        return Result(
            action.id, ResultStatus.COMPLETED, message="applied", files_changed=(path,), ran="patch"
        )

    async def undo_last(self) -> Result:
        if not self._undo:
            return Result("", ResultStatus.FAILED, message="nothing to undo")
        action_id, target, before = self._undo.pop()
        if before is None:
            target.unlink()
        else:
            target.write_bytes(before)
        self.undone.append(action_id)
        return Result(action_id, ResultStatus.COMPLETED, message="undone")


class ScriptedLink:
    """Proposes turn after turn; after each TurnEnded waits for that turn's results."""

    def __init__(self, turns: Sequence[Sequence[Action]], *, yields: Sequence[int] = ()) -> None:
        self.turns = [list(t) for t in turns]
        self.yields = list(yields)
        self.results: dict[str, tuple[Result, ...]] = {}
        self.order: list[str] = []
        self._got = asyncio.Event()

    async def _pause(self) -> None:
        n = self.yields.pop(0) if self.yields else 0
        for _ in range(n):
            await asyncio.sleep(0)

    async def _events(self) -> AsyncIterator[AgentEvent]:
        for actions in self.turns:
            turn_id = actions[0].turn_id
            for action in actions:
                await self._pause()
                yield Proposed(action)
            await self._pause()
            self._got.clear()
            yield TurnEnded(turn_id)
            while turn_id not in self.results:
                await self._got.wait()
                self._got.clear()

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        assert turn_id not in self.results, "results submitted twice"
        self.results[turn_id] = tuple(results)
        self.order.append(turn_id)
        self._got.set()

    async def cancel(self) -> None:
        pass


def cmd(text: str, turn: str = "t1", **kw: object) -> CommandAction:
    return CommandAction(command=text, turn_id=turn, **kw)  # type: ignore[arg-type]


def patch(text: str, turn: str = "t1") -> PatchAction:
    return PatchAction(patch=text, turn_id=turn)


def net(host: str, turn: str = "t1") -> NetworkAction:
    return NetworkAction(host=host, port=443, turn_id=turn)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
