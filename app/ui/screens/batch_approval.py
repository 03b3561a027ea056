"""`a`: approve every seen, non-critical action of the selected batch — or, when some were never
on screen, show the first of them instead and approve nothing yet."""

from __future__ import annotations

from collections.abc import Callable

from app.core.model import Verdict, VerdictKind
from app.ui.batch import plan_batch
from app.ui.screens.review import ReviewPanel

Submit = Callable[..., bool]
Notify = Callable[..., None]


def approve_batch(review: ReviewPanel, submit: Submit, notify: Notify) -> None:
    queue = review.queue
    row = queue.highlighted_row()
    if row is None or review.settling():
        return
    views = review.model.waiting_in(row.turn_id)
    plan = plan_batch(views, review.seen)
    if plan.unseen:  # show them first; a later press approves
        review.select(plan.unseen[0], settle=False)
        queue.scroll_to_highlight(top=True)
        whole = queue.shows_whole(queue.highlighted)
        notify(plan.unseen_note(whole), title="Not approved yet")
    elif not plan.approve:
        notify(f"Nothing approved: {plan.why_nothing()}.", severity="warning")
    else:
        approved = [
            v.action.id
            for v in views
            if v.action.id in plan.approve
            and submit(Verdict(v.action.id, VerdictKind.APPROVE, key="a"), advance=False)
        ]
        if (selected := review.selected_id()) is not None:
            review.advance(selected)
        notify(plan.approved_note(len(approved)))
