"""Events: what agent links tell the pipeline, and what the pipeline tells its observers.

Observers (the console, the audit log) watch; they never steer. Steering goes through
`Pipeline.submit_verdict` and friends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.core.model import Action, Assessment, Decision, Result, Verdict
from app.core.state import ActionState

# --------------------------------------------------------------------------- agent link -> pipeline


@dataclass(frozen=True)
class Proposed:
    """The agent proposed an action; it belongs to the turn named in `action.turn_id`."""

    action: Action


@dataclass(frozen=True)
class TurnEnded:
    """The agent finished proposing for this turn; it now waits for every result of it, in order."""

    turn_id: str


@dataclass(frozen=True)
class AgentText:
    """Streamed prose from the model (`kind="reasoning"` for reasoning summaries)."""

    text: str
    kind: Literal["text", "reasoning"] = "text"


@dataclass(frozen=True)
class AgentStatus:
    """What the link is doing, for the header: 'thinking', 'retrying in 4 s (429)', 'done' …"""

    state: Literal["idle", "thinking", "waiting", "retrying", "error", "done", "cancelled"]
    detail: str = ""


@dataclass(frozen=True)
class AgentCheckpoint:
    """What a link needs to pick its conversation up again after a crash, sent before it proposes
    a turn (or answers one without proposing anything). The pipeline writes it to the audit log
    as an `agent-state` record; after a crash `app.core.resume` hands every such record back so
    a new link of the same `api` can rebuild the conversation and propose `turn_id` again.

    `state` is the link's own JSON-able table; the core never reads inside it.
    """

    api: str
    turn_id: str
    state: Mapping[str, Any]


AgentEvent = Proposed | TurnEnded | AgentText | AgentStatus | AgentCheckpoint


# --------------------------------------------------------------------------- pipeline -> observers


@dataclass(frozen=True)
class ActionProposed:
    action: Action


@dataclass(frozen=True)
class ActionAssessed:
    action_id: str
    assessment: Assessment


@dataclass(frozen=True)
class ActionDecided:
    action_id: str
    decision: Decision


@dataclass(frozen=True)
class VerdictGiven:
    verdict: Verdict


@dataclass(frozen=True)
class ExecutionStarted:
    action_id: str
    ran: str  # the exact text that runs (the command, or the patch's summary)


@dataclass(frozen=True)
class OutputChunk:
    action_id: str
    stream: Literal["stdout", "stderr"]
    data: bytes


@dataclass(frozen=True)
class ExecutionFinished:
    result: Result


@dataclass(frozen=True)
class ResultsSent:
    turn_id: str
    results: tuple[Result, ...]


@dataclass(frozen=True)
class AgentEventSeen:
    """Agent prose and status, relayed for the console."""

    event: AgentText | AgentStatus


@dataclass(frozen=True)
class ActionStateChanged:
    """An action moved to a new review state; `Pipeline.view(action_id)` has the rest."""

    action_id: str
    state: ActionState


PipelineEvent = (
    ActionProposed
    | ActionAssessed
    | ActionDecided
    | VerdictGiven
    | ExecutionStarted
    | OutputChunk
    | ExecutionFinished
    | ResultsSent
    | AgentEventSeen
    | ActionStateChanged
)
