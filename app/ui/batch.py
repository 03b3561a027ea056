"""What one press of `a` may approve: every waiting, non-critical action of the batch — and only
once each of them has been on screen in full. Kept apart from the screen so the rule is plain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.core.model import Level
from app.core.state import ActionState
from app.ui.contract import ViewLike


@dataclass(frozen=True)
class BatchPlan:
    approve: tuple[str, ...]  # waiting, not critical, seen: `a` approves these
    unseen: tuple[str, ...]  # waiting, not critical, not yet on screen: `a` shows these first
    critical: tuple[str, ...]  # waiting and critical: never covered by `a`

    @property
    def ready(self) -> bool:
        return bool(self.approve) and not self.unseen

    def unseen_note(self, whole_in_queue: bool) -> str:
        """Why `a` did not approve yet, and how to see what is missing — by keyboard.
        `whole_in_queue`: the selected row fits the queue as it is drawn now (not cut to `…`),
        so showing it there is enough."""
        eligible = len(self.unseen) + len(self.approve)
        n = len(self.unseen)
        how = (
            "they are on screen now"
            if whole_in_queue
            else "the selected one is only whole in the detail pane: Tab to it and scroll to its "
            "end (or press enter to expand it)"
        )
        verb = "has" if n == 1 else "have"
        return (
            f"{n} of {eligible} action{'s' * (eligible != 1)} in this batch {verb} not been on "
            f"screen yet; {how}. Press a again once you have seen them."
        )

    def why_nothing(self) -> str:
        n = len(self.critical)
        if n:
            return f"{n} critical action{'s' * (n != 1)} need{'s' * (n == 1)} {'its' if n == 1 else 'their'} own y"
        return "nothing in this batch is waiting"

    def approved_note(self, approved: int) -> str:
        note = f"Approved {approved} action{'s' * (approved != 1)}."
        n = len(self.critical)
        if n:
            note += f" Critical ones need their own y: {', '.join(self.critical)}."
        return note


def is_critical(view: ViewLike) -> bool:
    # An action not assessed yet is treated as critical: nothing unassessed is batch-approved.
    return view.assessment is None or view.assessment.level is Level.CRITICAL


def plan_batch(views: Sequence[ViewLike], seen: Iterable[str]) -> BatchPlan:
    seen_ids = set(seen)
    approve: list[str] = []
    unseen: list[str] = []
    critical: list[str] = []
    for view in views:
        if view.state is not ActionState.WAITING:
            continue
        if is_critical(view):
            critical.append(view.action.id)
        elif view.action.id in seen_ids:
            approve.append(view.action.id)
        else:
            unseen.append(view.action.id)
    return BatchPlan(tuple(approve), tuple(unseen), tuple(critical))
