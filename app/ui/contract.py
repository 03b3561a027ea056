"""What the console needs from a session and its pipeline, written down as protocols.

The console drives `app.core.pipeline.Pipeline` and reads `app.session.Session`; naming only the
members it uses keeps the console honest about its dependencies (and lets a test hand it a
pipeline over recording executors). The protocols are complete: the console never probes an
object with `getattr` for a member they do not name. States are core's `ActionState`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.core.model import Action, Assessment, Batch, Decision, Result, Verdict
from app.core.ports import AgentLink, Observer, PatchReview, SessionContext
from app.core.state import ActionState
from app.injection.scanner import ScanResult
from app.injection.taint import TaintState
from app.ui.session_diff import Snapshot

if TYPE_CHECKING:  # the monitor's module imports openai: only its type is named here
    from app.injection.monitor import MonitorStats


class ViewLike(Protocol):
    """One action as the reviewer sees it at one moment (`app.core.state.ActionView`)."""

    @property
    def action(self) -> Action: ...
    @property
    def state(self) -> ActionState: ...
    @property
    def assessment(self) -> Assessment | None: ...
    @property
    def decision(self) -> Decision | None: ...
    @property
    def verdict(self) -> Verdict | None: ...
    @property
    def result(self) -> Result | None: ...
    @property
    def review(self) -> PatchReview | None: ...
    @property
    def recovered(self) -> bool: ...


class PipelineLike(Protocol):
    @property
    def context(self) -> SessionContext: ...
    @property
    def audit_failure(self) -> str: ...
    def add_observer(self, observer: Observer) -> None: ...
    async def run(self, link: AgentLink) -> None: ...
    def submit_verdict(self, verdict: Verdict) -> None: ...
    def judge_edit(self, action_id: str, edited: str) -> tuple[Assessment, Decision]: ...
    def view(self, action_id: str) -> ViewLike: ...
    def views(self) -> Sequence[ViewLike]: ...
    def batches(self) -> Sequence[Batch]: ...
    def waiting(self) -> Sequence[ViewLike]: ...
    async def undo_last_patch(self) -> Result: ...
    async def cancel(self) -> None: ...


class TaintLike(Protocol):
    """The session's untrusted-content tracker (`app.injection.taint.TaintTracker`)."""

    @property
    def state(self) -> TaintState: ...
    @property
    def scans(self) -> Mapping[str, ScanResult]:
        """Action id → the scanner's findings on its output (flagged outputs only)."""

    @property
    def listeners(self) -> list[Callable[[TaintState], None]]:
        """Called on the pipeline's loop after each change."""


class MonitorLike(Protocol):
    """The optional model monitor (`app.injection.monitor.Monitor`)."""

    def summary(self) -> str:
        """One line: calls, cache hits, latency and token cost."""

    @property
    def listeners(self) -> list[Callable[[MonitorStats], None]]:
        """Called after each opinion lands."""


class SessionLike(Protocol):
    @property
    def pipeline(self) -> PipelineLike: ...
    @property
    def workspace(self) -> Path: ...
    @property
    def session_id(self) -> str: ...
    @property
    def sandbox_status(self) -> object:
        """`sandbox.runner.SandboxStatus` (or a mapping with its keys), None if unknown."""

    @property
    def notices(self) -> tuple[str, ...]:
        """Things the console says once at start (a resumed session, a policy note)."""

    @property
    def taint(self) -> TaintLike | None:
        """None: the session does not track untrusted content."""

    @property
    def monitor(self) -> MonitorLike | None:
        """None: no model monitor."""


class ConsoleLike(Protocol):
    """What the main screen needs of the console application (`app.ui.app.LockgateApp`): named
    here so the screen never imports the application that imports it."""

    @property
    def session(self) -> SessionLike: ...
    @property
    def session_name(self) -> str: ...
    @property
    def workspace(self) -> Path: ...
    @property
    def sandbox_status(self) -> object: ...
    @property
    def watch_files(self) -> bool: ...
    @property
    def snapshot(self) -> Snapshot | None:
        """The workspace as the session began (paths), once the background snapshot is done."""

    @property
    def outside_roots(self) -> tuple[Path, ...]: ...
    @property
    def keymap(self) -> Mapping[str, str]: ...

    agent_failed: bool

    def start_pipeline(self) -> None: ...
    def shutdown(self, code: int | None = None) -> None: ...
