"""What one press of `a` may approve: every waiting, non-critical action of the batch — and only
once each of them has been on screen in full. Kept apart from the screen so the rule is plain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.core.model import Level
from app.ui.contract import State, ViewLike


@dataclass(frozen=True)
class BatchPlan:
    approve: tuple[str, ...]  # waiting, not critical, seen: `a` approves these
    unseen: tuple[str, ...]  # waiting, not critical, not yet on screen: `a` shows these first
    critical: tuple[str, ...]  # waiting and critical: never covered by `a`

    @property
    def ready(self) -> bool:
        return bool(self.approve) and not self.unseen


def is_critical(view: ViewLike) -> bool:
    # An action not assessed yet is treated as critical: nothing unassessed is batch-approved.
    return view.assessment is None or view.assessment.level is Level.CRITICAL


def plan_batch(views: Sequence[ViewLike], seen: Iterable[str]) -> BatchPlan:
    seen_ids = set(seen)
    approve: list[str] = []
    unseen: list[str] = []
    critical: list[str] = []
    for view in views:
        if str(view.state) != State.WAITING:
            continue
        if is_critical(view):
            critical.append(view.action.id)
        elif view.action.id in seen_ids:
            approve.append(view.action.id)
        else:
            unseen.append(view.action.id)
    return BatchPlan(tuple(approve), tuple(unseen), tuple(critical))
