"""The narrow interfaces the pipeline talks through. Each part (agent link, risk engine, policy,
executors, observers) is swappable, and tests plug in real parts or small honest fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from app.core.patch_review import PatchReview  # re-exported: executors and the UI take it from here

if TYPE_CHECKING:  # annotations only: a one-shot hook imports this module but no event types
    from app.core.events import AgentEvent, PipelineEvent
    from app.core.model import (
        Action,
        Assessment,
        CommandAction,
        Decision,
        NetworkAction,
        PatchAction,
        Result,
        Verdict,
    )

__all__ = [
    "AgentLink",
    "CommandExecutor",
    "NetworkAsker",
    "Observer",
    "OutputSink",
    "PatchExecutor",
    "PatchReview",
    "PolicyEngine",
    "RiskEngine",
    "SessionContext",
]


@dataclass(frozen=True)
class SessionContext:
    """What the session (never the agent) decides: where writes may go and how the network is."""

    workspace: Path
    network: Literal["off", "allow"] = "off"
    allowed_domains: tuple[str, ...] = ()
    headless: bool = False


class AgentLink(Protocol):
    """Where proposals come from: a live model, an OpenAI-compatible server, or a script.

    `events()` yields proposals and prose. After `TurnEnded(turn_id)` it waits until
    `submit_results(turn_id, results)` is called (results in proposal order), then continues
    with the model's next turn. The iterator ends when the agent is done or cancelled.
    """

    def events(self) -> AsyncIterator[AgentEvent]: ...

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None: ...

    async def cancel(self) -> None: ...


class RiskEngine(Protocol):
    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment: ...


class PolicyEngine(Protocol):
    """Turns an assessment into allow / ask / deny. Critical is always ask or deny."""

    def decide(self, action: Action, assessment: Assessment) -> Decision: ...

    def remember(self, action: Action, verdict: Verdict) -> None:
        """Learn from approve-for-session (token-exact session rule) and approve-always (persist)."""
        ...


OutputSink = Callable[[Literal["stdout", "stderr"], bytes], None]


class CommandExecutor(Protocol):
    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        """Run `command` (the approved text, possibly edited) for `action`. Cancellable."""
        ...


class PatchExecutor(Protocol):
    def review(self, action: PatchAction) -> PatchReview:
        """Parse and resolve; record hashes of what the reviewer sees (for the stale check)."""
        ...

    async def apply(self, action: PatchAction, review: PatchReview) -> Result: ...

    async def undo_last(self) -> Result: ...


class NetworkAsker(Protocol):
    async def ask(self, action: NetworkAction) -> Verdict: ...


class Observer(Protocol):
    def notify(self, event: PipelineEvent) -> None:
        """Called on the pipeline's event loop, in order. Must not block; must not raise."""
        ...
