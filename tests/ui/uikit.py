"""What the console tests drive: the real `Pipeline` over the shared doubles of its ports
(`tests/fakes.py`), configured the console's way: rules that read like real findings, network
asks and patches worth a look, and a link a test feeds turn by turn.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fakes import CONSOLE_RULES, FilePatches, QueueLink, RecordingCommands, RulePolicy, RuleRisk
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from app.core.audit import AuditLog
from app.core.model import (
    CommandAction,
    PatchAction,
)
from app.core.pipeline import ActionState, Pipeline, PipelineError
from app.core.ports import CommandExecutor, Observer, PolicyEngine, SessionContext
from app.injection.executor import ScanningCommandExecutor
from app.injection.taint import TaintObserver, TaintPolicy, TaintTracker
from app.ui.app import LockgateApp
from app.ui.screens.main import MainScreen

if TYPE_CHECKING:  # imports openai: only where a test has a monitor
    from app.injection.monitor import Monitor


@dataclass
class UiSession:
    """Stands in for `app.session.Session`: what the console reads of one."""

    pipeline: Pipeline
    workspace: Path
    commands: RecordingCommands
    patches: FilePatches
    policy: RulePolicy
    sandbox_status: object = field(
        default_factory=lambda: {
            "summary": "namespaces+landlock+seccomp",
            "network": "off",
            "degraded": [],
        }
    )
    session_id: str = "test-session"
    notices: tuple[str, ...] = ()
    taint: TaintTracker | None = None  # untrusted content, when a test tracks it
    monitor: Monitor | None = None  # the model monitor, when a test has one


def make_session(
    workspace: Path,
    *,
    outputs: dict[str, tuple[bytes, bytes, int]] | None = None,
    audit: AuditLog | None = None,
    taint: TaintTracker | None = None,
    monitor: Monitor | None = None,
    wrap_policy: Callable[[PolicyEngine], PolicyEngine] | None = None,
) -> UiSession:
    """`taint`, `monitor`, `wrap_policy`: the session's own layers, wrapped as `open_session`
    wraps them (registry checks inside taint tracking, the monitor outermost)."""
    commands = RecordingCommands(outputs=outputs)
    patches = FilePatches(workspace)
    policy = RulePolicy()
    command_port: CommandExecutor = commands
    policy_port: PolicyEngine = wrap_policy(policy) if wrap_policy is not None else policy
    inner_policy = policy_port
    observers: list[Observer] = []
    if taint is not None:
        command_port = ScanningCommandExecutor(command_port, taint, headless=False)
        policy_port = TaintPolicy(policy_port, taint, headless=False)
        observers.append(TaintObserver(taint))
    if monitor is not None:
        from app.injection.monitor import MonitoringCommandExecutor, MonitorPolicy

        monitor.tracker = taint
        command_port = MonitoringCommandExecutor(command_port, monitor)
        policy_port = MonitorPolicy(policy_port, monitor, headless=False)
    pipeline = Pipeline(
        context=SessionContext(workspace=workspace),
        risk=RuleRisk(CONSOLE_RULES, unlisted_host=50, patch_floor=20),
        policy=policy_port,
        commands=command_port,
        patches=patches,
        observers=observers,
        audit=audit,
    )
    for layer in (inner_policy, monitor):
        attach = getattr(layer, "attach", None)  # DepsPolicy, Monitor: they add late findings
        if attach is not None:
            attach(pipeline)
    return UiSession(pipeline, workspace, commands, patches, policy, taint=taint, monitor=monitor)


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
    taint: TaintTracker | None = None,
    monitor: Monitor | None = None,
    wrap_policy: Callable[[PolicyEngine], PolicyEngine] | None = None,
) -> AsyncIterator[Console]:
    session = make_session(
        workspace,
        outputs=outputs,
        audit=audit,
        taint=taint,
        monitor=monitor,
        wrap_policy=wrap_policy,
    )
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
