"""Where each action stands in review, and the snapshot the console renders.

Kept apart from the pipeline so `events.py` can name a state without importing the pipeline.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.core.model import Action, Assessment, Decision, Result, Verdict
from app.core.patch_review import PatchReview


class ActionState(enum.StrEnum):
    PROPOSED = "proposed"
    WAITING = "waiting"  # needs a human verdict
    APPROVED = "approved"
    AUTO_APPROVED = "auto-approved"
    DENIED = "denied"
    RUNNING = "running"
    DONE = "done"  # ran to the end; the result's exit code says how it went
    FAILED = "failed"  # could not run, timed out, or was cancelled (the result says which)
    INTERRUPTED = "interrupted"  # started before a crash and never finished; never run again

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {ActionState.DENIED, ActionState.DONE, ActionState.FAILED, ActionState.INTERRUPTED}
)


@dataclass(frozen=True)
class ActionView:
    """A snapshot: what the reviewer sees of one action at one moment."""

    action: Action
    state: ActionState
    assessment: Assessment | None = None
    decision: Decision | None = None
    verdict: Verdict | None = None
    result: Result | None = None
    review: PatchReview | None = None  # for patches: the unified diff the reviewer sees
    recovered: bool = False  # brought back from the audit log of a session that was killed
