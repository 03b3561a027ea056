"""Crash safety: rebuild what a killed session left behind from its audit log.

These records are what `Pipeline.seed` takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.model import Action, Assessment, Decision, Result, Verdict
from app.core.state import ActionState


@dataclass(frozen=True)
class RecoveredAction:
    action: Action
    state: ActionState
    assessment: Assessment | None = None
    decision: Decision | None = None
    verdict: Verdict | None = None
    result: Result | None = None  # set when the action ended (or was interrupted)
    unrecoverable: str = ""  # why it cannot come back for review (e.g. its text was redacted)


@dataclass(frozen=True)
class RecoveredTurn:
    turn_id: str
    actions: tuple[RecoveredAction, ...]
    results_sent: bool = False
