"""What the console needs from a session and its pipeline, written down as protocols.

The console drives `app.core.pipeline.Pipeline` and reads `app.session.Session`; naming only the
members it uses keeps the console honest about its dependencies (and lets a test hand it a
pipeline over recording executors). States are compared as strings: `ActionState` is a StrEnum.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from app.core.model import Action, Assessment, Batch, Decision, Result, Verdict
from app.core.ports import AgentLink, Observer, PatchReview, SessionContext


class State:
    """The action states the console tells apart (values of `ActionState`)."""

    PROPOSED = "proposed"
    WAITING = "waiting"
    APPROVED = "approved"
    AUTO_APPROVED = "auto-approved"
    DENIED = "denied"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    FINAL = frozenset({DENIED, DONE, FAILED, INTERRUPTED})


class ViewLike(Protocol):
    @property
    def action(self) -> Action: ...
    @property
    def state(self) -> str: ...
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


class PipelineLike(Protocol):
    @property
    def context(self) -> SessionContext: ...
    def add_observer(self, observer: Observer) -> None: ...
    async def run(self, link: AgentLink) -> None: ...
    def submit_verdict(self, verdict: Verdict) -> None: ...
    def view(self, action_id: str) -> ViewLike: ...
    def batches(self) -> Sequence[Batch]: ...
    def waiting(self) -> Sequence[ViewLike]: ...
    async def undo_last_patch(self) -> Result: ...
    async def cancel(self) -> None: ...


class SessionLike(Protocol):
    @property
    def pipeline(self) -> PipelineLike: ...
    @property
    def workspace(self) -> Path: ...
