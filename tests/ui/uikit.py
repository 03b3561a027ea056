"""What the console tests drive: the real `Pipeline` over small honest fakes of its ports.

The risk engine and policy here are rule tables (deterministic, so snapshots never move); the
executors really record what they were asked to run and really write files in a temp workspace;
the agent link is a queue a test feeds turn by turn.
"""

from __future__ import annotations

import asyncio
import difflib
import html
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from app.core.audit import AuditLog
from app.core.events import AgentEvent, AgentStatus, AgentText, Proposed, TurnEnded
from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    Finding,
    NetworkAction,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
)
from app.core.pipeline import ActionState, Pipeline, PipelineError
from app.core.ports import OutputSink, PatchReview, SessionContext
from app.ui.app import LockgateApp
from app.ui.screens.main import MainScreen

RULES: tuple[tuple[str, Category, int, str], ...] = (
    (r"/etc/shadow|CRIT", Category.SECRETS, 95, "reads the system's password hashes"),
    (r"rm -rf \S+", Category.DESTRUCTIVE, 70, "deletes a directory tree recursively"),
    (r"curl \S+", Category.NETWORK, 40, "downloads from the network"),
    (r"pip install \S+", Category.SUPPLY_CHAIN, 45, "installs a package from PyPI"),
    (r"\x1b|\u202e", Category.OBFUSCATION, 50, "contains characters a terminal hides"),
)


class RuleRisk:
    """Scores by regular expressions; spans point at what matched."""

    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        if isinstance(action, NetworkAction):
            return Assessment.from_findings(
                [Finding(Category.NETWORK, 50, f"connects to {action.host}, which no rule lists")]
            )
        text = action.reviewed_text
        findings = []
        for pattern, category, score, reason in RULES:
            spans = tuple((m.start(), m.end()) for m in re.finditer(pattern, text))
            if spans:
                findings.append(Finding(category, score, reason, spans))
        if isinstance(action, PatchAction) and not findings:
            findings.append(Finding(Category.RESOURCE, 20, "writes files in the workspace"))
        return Assessment.from_findings(findings)


class SimplePolicy:
    """Allows safe actions, denies "POLICY-DENY", asks about everything else."""

    def __init__(self) -> None:
        self.remembered: list[Verdict] = []

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        if "POLICY-DENY" in action.reviewed_text:
            return Decision(DecisionKind.DENY, rule="test:deny", reason="the test policy said no")
        if assessment.score < 15:
            return Decision(DecisionKind.ALLOW, rule="test:safe")
        return Decision(DecisionKind.ASK, rule="test:ask", reason="worth a look")

    def remember(self, action: Action, verdict: Verdict) -> None:
        self.remembered.append(verdict)


class RecordingCommands:
    """Records the exact text it is asked to run; prints `outputs[text]` (default "ran <text>")."""

    def __init__(self, outputs: dict[str, tuple[bytes, bytes, int]] | None = None) -> None:
        self.ran: list[tuple[str, str]] = []
        self.outputs = outputs or {}

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        self.ran.append((action.id, command))
        out, err, code = self.outputs.get(command, (f"ran {command}\n".encode(), b"", 0))
        if out:
            on_output("stdout", out)
        if err:
            on_output("stderr", err)
        await asyncio.sleep(0)
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
    """Patch text "path=content" (one file) writes `content` to `path` in the workspace."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.applied: list[str] = []
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
        return Result(action_id, ResultStatus.COMPLETED, message=f"undid {action_id}")


class QueueLink:
    """An agent link a test drives: `turn(...)` queues one turn's proposals; results come back
    through `submit_results` and can be awaited with `results_for`."""

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

    def status(self, state: str, detail: str = "") -> None:
        self._events.put_nowait(AgentStatus(state, detail))  # type: ignore[arg-type]

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


@dataclass
class UiSession:
    """Stands in for `app.session.Session`: what the console reads of one."""

    pipeline: Pipeline
    workspace: Path
    commands: RecordingCommands
    patches: FilePatches
    policy: SimplePolicy
    sandbox_status: object = field(
        default_factory=lambda: {
            "summary": "namespaces+landlock+seccomp",
            "network": "off",
            "degraded": [],
        }
    )
    session_id: str = "test-session"
    notices: tuple[str, ...] = ()


def make_session(
    workspace: Path,
    *,
    outputs: dict[str, tuple[bytes, bytes, int]] | None = None,
    audit: AuditLog | None = None,
) -> UiSession:
    commands = RecordingCommands(outputs)
    patches = FilePatches(workspace)
    policy = SimplePolicy()
    pipeline = Pipeline(
        context=SessionContext(workspace=workspace),
        risk=RuleRisk(),
        policy=policy,
        commands=commands,
        patches=patches,
        audit=audit,
    )
    return UiSession(pipeline, workspace, commands, patches, policy)


def cmd(command: str, turn: str = "t1", n: int = 1, **kw: object) -> CommandAction:
    """A command with a fixed id (ids show on screen; snapshots must not move)."""
    return CommandAction(command, turn_id=turn, id=f"cmd-{turn}-{n}", created_at=0.0, **kw)  # type: ignore[arg-type]


def patch(text: str, turn: str = "t1", n: int = 1) -> PatchAction:
    return PatchAction(text, turn_id=turn, id=f"patch-{turn}-{n}", created_at=0.0)


_SVG_TEXT = re.compile(
    r'<text class="terminal-[\w-]*?r\d+" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#terminal-[\w-]*?line-(\d+)\)">([^<]*)</text>'
)
_CELL = 12.2  # the width of one cell in Rich's SVG export


def screen_text(app: object) -> str:
    """What is on the terminal right now, as plain text (one line per row), read from Textual's
    public SVG export."""
    from textual.app import App

    assert isinstance(app, App)
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    for x, line, text in _SVG_TEXT.findall(app.export_screenshot(simplify=True)):
        col, row = round(float(x) / _CELL), int(line)
        for offset, char in enumerate(html.unescape(text).replace("\xa0", " ").rstrip("\n")):
            if row < height and col + offset < width:
                rows[row][col + offset] = char
    return "\n".join("".join(r).rstrip() for r in rows)


def screen_colours(app: object) -> set[str]:
    """Every background colour on the terminal right now (#rrggbb)."""
    from textual.app import App

    assert isinstance(app, App)
    return set(re.findall(r'<rect fill="(#[0-9a-f]{6})"', app.export_screenshot()))


# --------------------------------------------------------------------------- driving the console


@dataclass
class Console:
    app: LockgateApp
    pilot: Pilot[int]
    session: UiSession
    link: QueueLink
    toasts: list[str] = field(default_factory=list)

    @property
    def main(self) -> MainScreen:
        return self.app.main

    @property
    def text(self) -> str:
        return screen_text(self.app)

    def state(self, action_id: str) -> ActionState | None:
        try:
            return self.session.pipeline.view(action_id).state
        except PipelineError:
            return None

    async def until(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            if loop.time() > end:
                raise AssertionError("condition not reached; screen:\n" + self.text)
            await self.pilot.pause(0.02)

    async def select(self, action_id: str) -> None:
        queue = self.main.queue
        await self.until(lambda: queue.index_of(action_id) is not None)
        queue.highlighted = queue.index_of(action_id)
        await self.until(lambda: self.main.detail.shown_id == action_id)
        await self.settle()

    async def settle(self) -> None:
        """Wait out the pause after the console moved the selection by itself (verdict keys are
        ignored during it), as a reviewer reading the newly selected action would."""
        row = self.main.queue.highlighted_row()
        left = self.main.settle.left(row.action_id if row is not None else None)
        if left > 0:
            await self.pilot.pause(left + 0.01)
        await self.pilot.pause()

    def notes(self) -> list[str]:
        """Every toast the console showed so far, newest last."""
        return list(self.toasts)


@asynccontextmanager
async def console(
    workspace: Path,
    *,
    size: tuple[int, int] = (160, 50),
    outputs: dict[str, tuple[bytes, bytes, int]] | None = None,
    sandbox_status: object = None,
    watch_files: bool = False,
    audit: AuditLog | None = None,
) -> AsyncIterator[Console]:
    session = make_session(workspace, outputs=outputs, audit=audit)
    if sandbox_status is not None:
        session.sandbox_status = sandbox_status
    link = QueueLink()
    app = LockgateApp(session, link, watch_files=watch_files)
    toasts: list[str] = []

    def record(message: Message) -> None:
        if isinstance(message, Notify):
            toasts.append(str(message.notification.message))

    async with app.run_test(size=size, message_hook=record) as pilot:
        c = Console(app, pilot, session, link, toasts)
        await c.until(lambda: isinstance(app.screen, MainScreen))
        yield c
