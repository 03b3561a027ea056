"""The review queue: one header per agent turn, one row per action, virtualised.

Rows are drawn by `LinesView`, which only paints what is in the viewport; the queue reports
which rows were painted *whole* (`QueueList.Seen`), and that is what "on screen" means for batch
approval. A row whose summary had to be cut (a long command, any patch) is never counted as seen
from the queue: its detail view has to be shown instead. Which rows exist is `QueueModel`'s
business (`app.ui.queue_model`); this module draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import BindingType
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip

from app.core.model import CommandAction, Level, NetworkAction, PatchAction
from app.core.state import ActionState
from app.ui import bindings
from app.ui.contract import ViewLike
from app.ui.safe import make_safe, one_line, spaced
from app.ui.untrusted import Mark, row_mark
from app.ui.widgets.lines import LinesView

SUMMARY_LIMIT = 160

_STATE_STYLE = {
    ActionState.PROPOSED: "$text-muted",
    ActionState.WAITING: "bold $text-warning",
    ActionState.APPROVED: "$text-success",
    ActionState.AUTO_APPROVED: "$text-success",
    ActionState.DENIED: "$text-error",
    ActionState.RUNNING: "bold $text-accent",
    ActionState.DONE: "$text-success",
    ActionState.FAILED: "bold $text-error",
    ActionState.INTERRUPTED: "$text-error",
}
_STATE_WORD = {ActionState.AUTO_APPROVED: "auto"}
_LEVEL_WORD = {"safe": "SAFE", "low": "LOW", "medium": "MED", "high": "HIGH", "critical": "CRIT"}
_KIND_MARK = {"command": "$", "patch": "±", "network": "⇄"}


@dataclass(frozen=True)
class RowInfo:
    action_id: str | None  # None for a batch header
    turn_id: str
    complete: bool  # the row shows everything there is to see of the action


def badge(view: ViewLike) -> Content:
    a = view.assessment
    if a is None:
        return Content.styled("  …     ", "$text-muted")
    label = f"{_LEVEL_WORD[a.level.value]:<4} {a.score:>3}"
    return Content.styled(f" {label} ", f"bold $risk-badge-text on $risk-{a.level.value}")


def state_label(view: ViewLike, *, undone: bool = False) -> Content:
    """The state word; `undone`: a patch the reviewer undid (the pipeline still says done)."""
    if undone:
        return Content.styled(f"{'undone':<9}", "bold $text-warning")
    state = view.state
    word = _STATE_WORD.get(state, state.value)
    done = state is ActionState.DONE and view.result is not None
    if done and view.result is not None and view.result.exit_code not in (None, 0):
        return Content.styled(f"exit {view.result.exit_code:<4}", "bold $text-error")
    if done and view.result is not None and view.result.exit_code == 0:
        word = "done 0"
    return Content.styled(f"{word:<9.9}", _STATE_STYLE.get(state, ""))


def summary(view: ViewLike) -> tuple[Content, bool]:
    """The row's text and whether it is the whole of what the reviewer must see."""
    action = view.action
    if isinstance(action, CommandAction):
        safe, cut = one_line(action.command, SUMMARY_LIMIT)
        text = safe.content()
        if cut:
            text = text + spaced(
                f" … (+{len(action.command) - SUMMARY_LIMIT} chars)", "italic $text-warning"
            )
        return text, not cut and not safe.hazardous
    if isinstance(action, PatchAction):
        review = view.review
        if review is not None and review.files:
            names = ", ".join(p for p, _, _ in review.files[:3])
            more = f" +{len(review.files) - 3} more" if len(review.files) > 3 else ""
            added = sum(f[1] for f in review.files)
            removed = sum(f[2] for f in review.files)
            safe, _ = one_line(f"patch {names}{more}", SUMMARY_LIMIT)
            return safe.content() + spaced(f"  +{added} −{removed}", "$text-muted"), False
        return Content("patch"), False
    assert isinstance(action, NetworkAction)
    line = f"{action.method} {action.scheme}://{action.host}:{action.port}"
    if action.program:
        line += f"  ({action.program})"
    safe, cut = one_line(line, SUMMARY_LIMIT)
    return safe.content(), not cut and not safe.hazardous


def action_prompt(
    view: ViewLike, *, undone: bool = False, untrusted: Mark | None = None
) -> tuple[Content, bool]:
    """The row: badge, state, kind, marks (hidden characters, recovered, brought untrusted
    content in), then the action's text; and whether the row shows all of it."""
    body, complete = summary(view)
    mark = _KIND_MARK.get(view.action.kind, "?")
    warn = ""
    if isinstance(view.action, CommandAction) and make_safe(view.action.command).hazardous:
        warn = "⚠ "
    critical = view.assessment is not None and view.assessment.level is Level.CRITICAL
    parts = [
        badge(view),
        Content(" "),
        state_label(view, undone=undone),
        Content(" "),
        Content.styled(f"{mark} ", "$text-muted"),
    ]
    if warn:
        parts.append(Content.styled(warn, "bold $text-warning"))
    if view.recovered:
        # Brought back from the audit log of a session that was killed.
        parts.append(Content.styled("↺ ", "bold $text-accent"))
    if untrusted is not None:
        # Its result brought untrusted content into the agent's context.
        parts.append(row_mark(untrusted))
    parts.append(body.stylize_before("bold") if critical else body)
    return Content("").join(parts), complete


@dataclass(frozen=True)
class QueueRow:
    info: RowInfo
    prompt: Content


class QueueList(LinesView[QueueRow]):
    """One line per row, drawn lazily; a cursor that skips batch headers.

    A row counts as *seen* once it has been painted and its whole text fitted the width (nothing
    cut at the right edge, nothing elided, no hazard markers that need the detail's warnings).

    Component classes:
    - `queue--cursor`: the highlighted row, drawn across the full width.
    """

    BINDINGS: ClassVar[list[BindingType]] = list(bindings.QUEUE)
    COMPONENT_CLASSES: ClassVar[set[str]] = {"queue--cursor"}
    DEFAULT_CSS = """
    QueueList {
        overflow-x: hidden;
    }
    QueueList > .queue--cursor {
        background: $primary 25%;
        text-style: bold;
    }
    """

    highlighted: reactive[int | None] = reactive(None, init=False, always_update=False)
    """The index of the highlighted row: always an action's row (never a batch header) or None."""

    class Highlighted(Message):
        """The cursor moved to another row (`row` is None when the queue is empty)."""

        def __init__(self, queue: QueueList, row: RowInfo | None) -> None:
            super().__init__()
            self.queue = queue
            self.row = row

        @property
        def control(self) -> QueueList:
            return self.queue

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, QueueList.Highlighted)

    class Seen(Message):
        """These actions' rows were painted whole."""

        def __init__(self, queue: QueueList, action_ids: frozenset[str]) -> None:
            super().__init__()
            self.queue = queue
            self.action_ids = action_ids

        @property
        def control(self) -> QueueList:
            return self.queue

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.seen: set[str] = set()
        self._index: dict[str, int] = {}

    # ------------------------------------------------------------------ rows

    def set_queue(self, rows: Sequence[QueueRow]) -> bool:
        """Replace the rows, keeping the cursor on the same action. True if rows were only
        appended (existing rows keep their old prompts: update them with `update_row`)."""
        keep = self.highlighted_row()
        old = self.rows
        appended = len(rows) >= len(old) > 0 and all(
            (old[i].info.action_id, old[i].info.turn_id)
            == (rows[i].info.action_id, rows[i].info.turn_id)
            for i in range(len(old))
        )
        if appended:
            extra = list(rows[len(old) :])
            for offset, row in enumerate(extra, len(old)):
                if row.info.action_id is not None:
                    self._index[row.info.action_id] = offset
            self.append_rows(extra)
        else:
            self.set_rows(list(rows))
            self._index = {
                r.info.action_id: i for i, r in enumerate(self.rows) if r.info.action_id is not None
            }
            self.set_reactive(QueueList.highlighted, None)
            if keep is not None and keep.action_id is not None:
                self.highlighted = self._index.get(keep.action_id)
        if self.highlighted is None:
            self.highlighted = min(self._index.values(), default=None)
        return appended

    def update_row(self, index: int, row: QueueRow) -> None:
        self.replace_row(index, row)

    def highlighted_row(self) -> RowInfo | None:
        index = self.highlighted
        if index is None or index >= len(self.rows):
            return None
        return self.rows[index].info

    def shows_whole(self, index: int | None) -> bool:
        """Row `index` holds all of its action and fits the queue's width as drawn now."""
        if index is None or index >= len(self.rows):
            return False
        row = self.rows[index]
        return row.info.complete and row.prompt.cell_length <= self.line_width

    def index_of(self, action_id: str) -> int | None:
        return self._index.get(action_id)

    # ------------------------------------------------------------------ cursor

    def validate_highlighted(self, index: int | None) -> int | None:
        """Out of range is None; a batch header passes the cursor to the action below it (or,
        at the end, above it)."""
        if index is None or not (0 <= index < len(self.rows)):
            return None
        if self.rows[index].info.action_id is None:
            below = self._step(index, 1)
            return below if below is not None else self._step(index, -1)
        return index

    def watch_highlighted(self, previous: int | None, index: int | None) -> None:
        for i in (previous, index):
            if i is not None and i < len(self.rows):
                self.redraw_row(i)
        self.scroll_to_highlight()
        self.post_message(self.Highlighted(self, self.highlighted_row()))

    def _step(self, start: int, direction: int) -> int | None:
        i = start
        while 0 <= i < len(self.rows):
            if self.rows[i].info.action_id is not None:
                return i
            i += direction
        return None

    def scroll_to_highlight(self, top: bool = False) -> None:
        y = self.highlighted
        if y is None:
            return
        height = self.scrollable_content_region.height or 1
        if top:
            # Show the header above it too, so the batch is named.
            target = max(0, y - 1)
        elif y < self.scroll_y:
            target = y
        elif y >= self.scroll_y + height:
            target = y - height + 1
        else:
            return
        self.scroll_to(y=target, animate=False, immediate=True)

    def _move(self, delta: int) -> None:
        if not self._index:
            return
        if self.highlighted is None:
            self.highlighted = min(self._index.values())
            return
        direction = 1 if delta > 0 else -1
        start = max(0, min(len(self.rows) - 1, self.highlighted + delta))
        target = self._step(start, direction)
        if target is None:
            target = self._step(start, -direction)
        if target is not None:
            self.highlighted = target

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_first(self) -> None:
        if self._index:
            self.highlighted = min(self._index.values())

    def action_last(self) -> None:
        if self._index:
            self.highlighted = max(self._index.values())

    def action_page_down(self) -> None:
        self._move(max(1, self.scrollable_content_region.height - 1))

    def action_page_up(self) -> None:
        self._move(-max(1, self.scrollable_content_region.height - 1))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y
        if 0 <= index < len(self.rows) and self.rows[index].info.action_id is not None:
            self.highlighted = index

    # ------------------------------------------------------------------ drawing and seen

    def row_width(self, row: QueueRow) -> int:
        return 1  # never scrolls sideways: a cut row is not "seen", the detail shows it whole

    def row_content(self, row: QueueRow) -> Content:
        width = self.line_width
        if width and row.prompt.cell_length > width:
            return row.prompt.truncate(width, ellipsis=True)
        return row.prompt

    def row_strip(self, index: int, content: Content) -> Strip:
        if index != self.highlighted:
            return super().row_strip(index, content)
        # The cursor row is drawn on the cursor's own background, across the full width.
        content = content.extend_right(max(0, self.line_width - content.cell_length))
        return Strip(content.render_segments(self.get_visual_style("queue--cursor")))

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        index = int(self.scroll_y) + y
        if index < len(self.rows):
            info = self.rows[index].info
            if (
                info.action_id is not None
                and info.complete
                and info.action_id not in self.seen
                and self.rows[index].prompt.cell_length <= self.line_width
            ):
                self.seen.add(info.action_id)
                self.post_message(self.Seen(self, frozenset({info.action_id})))
        return strip
