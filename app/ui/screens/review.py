"""The queue and the selected action's detail, side by side: what is selected, what the reviewer
has seen whole, and which action a verdict key may act on.

A verdict always names the action whose text is on screen in the detail pane: `target()` gives
the highlighted action only when the detail pane shows that same action, and actions are frozen,
so what is approved is exactly what was displayed. The panel moves the selection by itself to
the next waiting action (`advance`, `follow`), never approving anything, and verdict keys then
ignore the new selection for a moment (`selection.Settle`).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal

from app.core.model import NetworkAction
from app.core.pipeline import PipelineError
from app.core.state import ActionState
from app.ui.contract import PipelineLike, ViewLike
from app.ui.queue_model import QueueModel
from app.ui.safe import notify_safely
from app.ui.selection import Settle, next_waiting
from app.ui.untrusted import UntrustedContent
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.queue import QueueList


class ReviewPanel(Horizontal):
    def __init__(
        self,
        pipeline: PipelineLike,
        *,
        untrusted: UntrustedContent | None = None,
        id: str | None = None,
    ) -> None:
        """`untrusted`: what the session's taint tracker and output scanner know (rows and
        details mark the results that brought untrusted content in)."""
        super().__init__(id=id)
        self.pipeline = pipeline
        self.untrusted = untrusted if untrusted is not None else UntrustedContent()
        self.model = QueueModel(self.untrusted)
        self.settle = Settle()
        self.seen: set[str] = set()  # actions shown whole, in the queue or the detail pane
        self.queue = QueueList(id="queue")
        self.detail = DetailPane(id="detail")
        self._known_waiting: set[str] = set()

    def compose(self) -> ComposeResult:
        yield self.queue
        yield self.detail

    def view_of(self, action_id: str) -> ViewLike | None:
        """Fresh from the pipeline (the model's views lag a verdict just given)."""
        try:
            return self.pipeline.view(action_id)
        except PipelineError:
            return None

    def take(self, changed: set[str], new_ids: list[str]) -> None:
        """Bring rows and detail up to date with what the pipeline changed."""
        for action_id in changed:
            if (view := self.view_of(action_id)) is not None:
                self.model.put(view)
        # Only new actions change the layout; otherwise just the changed rows are redrawn.
        if not new_ids or self.queue.set_queue(
            self.model.layout(self.pipeline.batches(), self.view_of)
        ):
            for index, row in self.model.changed_rows(changed):
                self.queue.update_row(index, row)
        self._follow(changed, new_ids)
        shown = self.detail.shown_id
        if shown is not None and shown in changed:
            self.show(shown)
        elif shown is None and (selected := self.selected_id()) is not None:
            self.show(selected)

    def show(self, action_id: str) -> None:
        view = self.model.views.get(action_id) or self.view_of(action_id)
        if view is None:
            return
        parent = None
        if isinstance(view.action, NetworkAction) and view.action.parent_action_id:
            parent = self.view_of(view.action.parent_action_id)
        self.detail.show(
            view,
            asked_by=parent,
            untrusted=self.untrusted.mark(action_id),
            scan=self.untrusted.scan(action_id),
        )

    @on(QueueList.Highlighted)
    def _highlighted(self, _: QueueList.Highlighted) -> None:
        # Not stopped: the screen re-checks its verdict keys on the same message.
        if (action_id := self.selected_id()) is not None:
            self.show(action_id)

    @on(QueueList.Seen)
    @on(DetailPane.Seen)
    def _on_seen(self, event: QueueList.Seen | DetailPane.Seen) -> None:
        self.seen |= event.action_ids

    # ------------------------------------------------------------------ selection

    def selected_id(self) -> str | None:
        row = self.queue.highlighted_row()
        return row.action_id if row is not None else None

    def selected_view(self) -> ViewLike | None:
        action_id = self.selected_id()
        return self.model.views.get(action_id) if action_id is not None else None

    def batch_waiting(self) -> bool:
        """Whether the selected action's batch has anything waiting (for `a`)."""
        row = self.queue.highlighted_row()
        return row is not None and bool(self.model.waiting_in(row.turn_id))

    def _is_waiting(self, action_id: str | None) -> bool:
        view = self.view_of(action_id) if action_id is not None else None
        return view is not None and view.state is ActionState.WAITING

    def _waiting_ids(self) -> list[str]:
        rows = self.model.row_of
        return [v.action.id for v in self.pipeline.waiting() if rows(v.action.id) is not None]

    def select(self, action_id: str, *, settle: bool = True) -> None:
        """Move the selection (and so the detail pane) to `action_id`; approves nothing."""
        index = self.queue.index_of(action_id)
        if index is not None and index != self.queue.highlighted:
            self.queue.highlighted = index
            if settle:
                self.settle.moved_to(action_id)

    def advance(self, acted_on: str) -> None:
        """After a verdict on `acted_on`: go to the next waiting action, unless the reviewer is
        on an action that still waits (a critical one `a` left behind, a verdict refused)."""
        current = self.selected_id()
        if current not in (None, acted_on) or self._is_waiting(current):
            return
        if (nxt := next_waiting(self.model.batches, self._waiting_ids(), acted_on)) is not None:
            self.select(nxt)

    def _follow(self, changed: set[str], new_ids: list[str]) -> None:
        """A newly waiting action takes the selection only from an action that no longer
        waits, and never while the reviewer reads one pane full screen."""
        later = sorted(changed - set(new_ids))
        fresh = [
            i for i in [*new_ids, *later] if i not in self._known_waiting and self._is_waiting(i)
        ]
        self._known_waiting.update(fresh)
        current = self.selected_id()
        if not fresh or self._is_waiting(current) or self.screen.maximized is not None:
            return
        if (nxt := next_waiting(self.model.batches, self._waiting_ids(), current)) is not None:
            self.select(nxt)

    def settling(self) -> bool:
        """True (with a note) if the panel moved the selection a moment ago: the key was
        pressed for what was there before, or is held down."""
        selected = self.selected_id()
        if self.settle.left(selected) <= 0:
            return False
        notify_safely(
            self,
            f"The selection just moved to {selected}; read it, then press the key again.",
            title="Not applied",
            severity="warning",
            timeout=3,
        )
        return True

    def target(self, *, approving: bool = True) -> ViewLike | None:
        """The waiting action a verdict key acts on: the highlighted one. An approval also needs
        the detail pane to show that very action (the screen may lag a fast cursor); a denial
        runs nothing, so it never has to wait for the pane."""
        action_id = self.selected_id()
        if action_id is None or self.settling():
            return None
        if approving and self.detail.shown_id != action_id:
            self.show(action_id)
            self.notify("Showing the selected action now; press the key again.", timeout=3)
            return None
        view = self.view_of(action_id)
        return view if view is not None and view.state is ActionState.WAITING else None
