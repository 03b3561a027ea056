"""The review queue as data: one header row per batch, one row per action, in proposal order.

The main screen feeds it action views as pipeline events arrive and hands its rows to the
`QueueList` widget; everything about which row is where, what a batch holds and what a header
says lives here, apart from drawing and from Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from textual.content import Content

from app.core.model import Batch, NetworkAction, PatchAction
from app.core.state import ActionState
from app.ui.contract import ViewLike
from app.ui.safe import safe_line, spaced, turn_label
from app.ui.selection import BatchIds
from app.ui.untrusted import UntrustedContent
from app.ui.widgets.queue import QueueRow, RowInfo, action_prompt


class QueueModel:
    def __init__(self, untrusted: UntrustedContent | None = None) -> None:
        self.untrusted = untrusted if untrusted is not None else UntrustedContent()
        self.views: dict[str, ViewLike] = {}
        self.batches: list[BatchIds] = []
        self.undone: frozenset[str] = frozenset()  # patches the reviewer undid with `u`
        self._prompts: dict[str, tuple[Content, bool]] = {}
        self._row_of: dict[str, int] = {}
        self._header_of: dict[str, int] = {}
        # The batch an action is in: not always its own turn id (a network ask carries its
        # command's turn but is a batch of its own).
        self._batch_of: dict[str, str] = {}

    def put(self, view: ViewLike) -> None:
        """Take the newest view of an action (its row is rebuilt from it)."""
        action_id = view.action.id
        self.views[action_id] = view
        self._prompts[action_id] = action_prompt(
            view, undone=action_id in self.undone, untrusted=self.untrusted.mark(action_id)
        )

    def layout(
        self, batches: Sequence[Batch], lookup: Callable[[str], ViewLike | None]
    ) -> list[QueueRow]:
        """Every row, from the pipeline's batches; `lookup` fetches views not seen yet."""
        rows: list[QueueRow] = []
        self._row_of.clear()
        self._header_of.clear()
        self.batches = []
        for batch in batches:
            ids = tuple(a.id for a in batch.actions)
            self.batches.append((batch.turn_id, ids))
            for action_id in ids:
                if action_id not in self._prompts and (view := lookup(action_id)) is not None:
                    self.put(view)
            self._header_of[batch.turn_id] = len(rows)
            rows.append(QueueRow(RowInfo(None, batch.turn_id, False), self._header(batch.turn_id)))
            for action_id in ids:
                self._batch_of[action_id] = batch.turn_id
                if action_id in self._prompts:
                    self._row_of[action_id] = len(rows)
                    rows.append(self._action_row(action_id))
        return rows

    def changed_rows(self, action_ids: Iterable[str]) -> list[tuple[int, QueueRow]]:
        """(index, row) for each of `action_ids` that has a row, and for their batch headers."""
        out: list[tuple[int, QueueRow]] = []
        turns: set[str] = set()
        for action_id in action_ids:
            index = self._row_of.get(action_id)
            if index is None:
                continue
            out.append((index, self._action_row(action_id)))
            turns.add(self._batch_of.get(action_id, self.views[action_id].action.turn_id))
        for turn_id in sorted(turns):
            index = self._header_of.get(turn_id)
            if index is not None:
                out.append((index, QueueRow(RowInfo(None, turn_id, False), self._header(turn_id))))
        return out

    def patch_files(self, action_id: str) -> tuple[str, ...] | None:
        """The files a patch declared (None: not a patch), for crediting file changes."""
        view = self.views.get(action_id)
        if view is None or not isinstance(view.action, PatchAction):
            return None
        return tuple(p for p, _, _ in view.review.files) if view.review is not None else ()

    def row_of(self, action_id: str) -> int | None:
        return self._row_of.get(action_id)

    def batch_ids(self, turn_id: str) -> tuple[str, ...]:
        return next((ids for t, ids in self.batches if t == turn_id), ())

    def waiting_in(self, turn_id: str) -> list[ViewLike]:
        """The batch's actions that wait for a verdict, in proposal order."""
        views = (self.views.get(i) for i in self.batch_ids(turn_id))
        return [v for v in views if v is not None and v.state is ActionState.WAITING]

    def waiting(self) -> list[str]:
        """Every waiting action that has a row, in queue order."""
        return [
            i
            for _, ids in self.batches
            for i in ids
            if i in self._row_of and self.views[i].state is ActionState.WAITING
        ]

    def _action_row(self, action_id: str) -> QueueRow:
        prompt, complete = self._prompts[action_id]
        turn_id = self._batch_of.get(action_id, self.views[action_id].action.turn_id)
        return QueueRow(RowInfo(action_id, turn_id, complete), prompt)

    def _header(self, turn_id: str) -> Content:
        ids = self.batch_ids(turn_id)
        views = [self.views[i] for i in ids if i in self.views]
        waiting = sum(1 for v in views if v.state is ActionState.WAITING)
        network = len(views) == 1 and isinstance(views[0].action, NetworkAction)
        label = Content("network ask") if network else safe_line(turn_label(turn_id))
        text = (Content("▌") + label).stylize_before("bold $text-primary") + spaced(
            f" · {len(ids)} action{'s' * (len(ids) != 1)}", "$text-muted"
        )
        if waiting:
            text += spaced(f" · {waiting} waiting", "bold $text-warning")
        return text
