"""The one set of test doubles for the pipeline's ports: commands, patches, risk, policy, links.

Each double really does what it stands for, on a small scale: the executors record the exact text
they were asked to run and really write files in a temp workspace, the risk engine scores by a
rule table (deterministic, so snapshots never move), the policy decides by level, the links hand
out turns and wait for their results. The core tests (`tests/core/corefakes.py`) and the console
tests (`tests/ui/uikit.py`) configure these; neither keeps doubles of its own.

Conventions in action text, so scenarios read plainly:
  "CRIT" / "HIGH"  → the marker rules score it critical / high (`MARKER_RULES`)
  "POLICY-DENY"    → the policy denies it;  "ASK" → the policy asks
  "RISK-RAISES"    → the risk engine fails, as a broken engine would
  "EXPLODE"        → the command executor cannot start it;  "BLOCK" → it runs until released
  "BAD"            → a patch that does not apply;  "path=content" → a patch writing one file
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from app.core.events import AgentEvent, AgentStatus, AgentText, PipelineEvent, Proposed, TurnEnded
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

Rule = tuple[str, Category, int, str]  # (pattern, category, score, reason)
AgentState = Literal["idle", "thinking", "waiting", "retrying", "error", "done", "cancelled"]

MARKER_RULES: tuple[Rule, ...] = (
    (r"CRIT", Category.DESTRUCTIVE, 95, "critical marker"),
    (r"HIGH", Category.NETWORK, 70, "high marker"),
)
"""The core tests' markers."""

CONSOLE_RULES: tuple[Rule, ...] = (
    (r"/etc/shadow|CRIT", Category.SECRETS, 95, "reads the system's password hashes"),
    (r"rm -rf \S+", Category.DESTRUCTIVE, 70, "deletes a directory tree recursively"),
    (r"curl \S+", Category.NETWORK, 40, "downloads from the network"),
    (r"pip install \S+", Category.SUPPLY_CHAIN, 45, "installs a package from PyPI"),
    (r"\x1b|\u202e", Category.OBFUSCATION, 50, "contains characters a terminal hides"),
)
"""The console tests' rules: real-looking commands with the reasons a reviewer reads."""


# --------------------------------------------------------------------------- risk and policy


class RuleRisk:
    """Scores by a rule table; spans point at what matched. `unlisted_host`: the score of a
    network ask (None: asks are safe); `patch_floor`: the score of a patch no rule matched."""

    def __init__(
        self,
        rules: Sequence[Rule] = MARKER_RULES,
        *,
        unlisted_host: int | None = None,
        patch_floor: int | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.unlisted_host = unlisted_host
        self.patch_floor = patch_floor
        self.seen: list[tuple[str, tuple[str, ...]]] = []  # (action id, ids of its batch)

    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        self.seen.append((action.id, tuple(a.id for a in batch)))
        text = action.reviewed_text
        if "RISK-RAISES" in text:
            raise RuntimeError("risk engine exploded")
        if isinstance(action, NetworkAction) and self.unlisted_host is not None:
            reason = f"connects to {action.host}, which no rule lists"
            return Assessment.from_findings([Finding(Category.NETWORK, self.unlisted_host, reason)])
        findings = []
        for pattern, category, score, reason in self.rules:
            spans = tuple((m.start(), m.end()) for m in re.finditer(pattern, text))
            if spans:
                findings.append(Finding(category, score, reason, spans))
        if isinstance(action, PatchAction) and not findings and self.patch_floor is not None:
            findings.append(
                Finding(Category.RESOURCE, self.patch_floor, "writes files in the workspace")
            )
        return Assessment.from_findings(findings)


class RulePolicy:
    """Denies "POLICY-DENY"; allows everything when `reckless` (critical included, which the
    pipeline must still ask); asks about "ASK" and anything above safe; allows the rest."""

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


# --------------------------------------------------------------------------- executors


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
    """Records the exact text it is asked to run and prints `outputs[text]` (stdout, stderr,
    exit code), else `say(text)` on stdout ("ran <text>" unless told otherwise)."""

    def __init__(
        self,
        trace: Trace | None = None,
        *,
        outputs: dict[str, tuple[bytes, bytes, int]] | None = None,
        say: Callable[[str], bytes] = lambda text: f"ran {text}\n".encode(),
    ) -> None:
        self.trace = trace or Trace()
        self.outputs = outputs or {}
        self.say = say
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
        out, err, code = self.outputs.get(command, (self.say(command), b"", 0))
        if out:
            on_output("stdout", out)
        if err:
            on_output("stderr", err)
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            exit_code=code,
            stdout=out,
            stderr=err,
            stdout_total=len(out),
            stderr_total=len(err),
            duration_s=0.25,
            ran=command,
        )


class FilePatches:
    """Patch text "path=content" writes `content` to `path` in the workspace (the review is the
    real unified diff); "BAD" does not apply. Undo restores the last patch's file."""

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
        target = self.workspace / path
        old = target.read_text().splitlines(keepends=True) if target.exists() else []
        new = content.splitlines(keepends=True)
        a = f"a/{path}" if old else "/dev/null"
        diff = "".join(difflib.unified_diff(old, new, a, f"b/{path}"))
        added = sum(1 for ln in diff.splitlines()[2:] if ln.startswith("+"))
        removed = sum(1 for ln in diff.splitlines()[2:] if ln.startswith("-"))
        return PatchReview(action.id, ok=True, unified_diff=diff, files=((path, added, removed),))

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        self.applied.append(action.id)
        self.trace.items.append(("exec", action.id, action.patch))
        path, _, content = action.patch.partition("=")
        target = self.workspace / path
        target.parent.mkdir(parents=True, exist_ok=True)
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
        return Result(action_id, ResultStatus.COMPLETED, message=f"undid {action_id}")


# --------------------------------------------------------------------------- agent links


class ScriptedLink:
    """Proposes the given turns one after the other; after each TurnEnded waits for that turn's
    results. `yields`: how many times to yield to the loop before each event (interleavings)."""

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


class QueueLink:
    """A link a test drives turn by turn: `turn(...)` queues one turn's words and proposals;
    results come back through `submit_results` (see `results`)."""

    def __init__(self) -> None:
        self._events: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        self.results: dict[str, tuple[Result, ...]] = {}
        self._got = asyncio.Event()
        self.cancelled = False

    def turn(self, turn_id: str, actions: Sequence[Action], *, text: str = "") -> None:
        if text:
            self._events.put_nowait(AgentText(text))
        for action in actions:
            self._events.put_nowait(Proposed(action))
        self._events.put_nowait(TurnEnded(turn_id))

    def say(self, text: str) -> None:
        """The agent's words, outside any turn (streamed prose)."""
        self._events.put_nowait(AgentText(text))

    def status(self, state: AgentState, detail: str = "") -> None:
        self._events.put_nowait(AgentStatus(state, detail))

    def finish(self) -> None:
        self._events.put_nowait(None)

    async def _iter(self) -> AsyncIterator[AgentEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event
            if isinstance(event, TurnEnded):
                while event.turn_id not in self.results:
                    self._got.clear()
                    await self._got.wait()

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._iter()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        self.results[turn_id] = tuple(results)
        self._got.set()

    async def cancel(self) -> None:
        self.cancelled = True
        self._events.put_nowait(None)
