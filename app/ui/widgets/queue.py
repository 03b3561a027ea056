"""The review queue: one header per agent turn, one row per action, virtualised.

Rows are drawn by `OptionList`, which only paints what is in the viewport; the queue records
which rows were painted *whole*, and that is what "on screen" means for batch approval. A row
whose summary had to be cut (a long command, any patch) is never counted as seen from the queue:
its detail view has to be shown instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.strip import Strip
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from app.core.model import CommandAction, Level, NetworkAction, PatchAction
from app.ui.contract import State, ViewLike
from app.ui.safe import make_safe, one_line

SUMMARY_LIMIT = 160

_STATE_STYLE = {
    State.PROPOSED: "$text-muted",
    State.WAITING: "bold $text-warning",
    State.APPROVED: "$text-success",
    State.AUTO_APPROVED: "$text-success 70%",
    State.DENIED: "$text-error",
    State.RUNNING: "bold $text-accent",
    State.DONE: "$text-success",
    State.FAILED: "bold $text-error",
    State.INTERRUPTED: "$text-error",
}
_STATE_WORD = {State.AUTO_APPROVED: "auto"}
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
    return Content.styled(f" {label} ", f"bold reverse $risk-{a.level.value}")


def state_label(view: ViewLike) -> Content:
    state = str(view.state)
    word = _STATE_WORD.get(state, state)
    if state == State.DONE and view.result is not None and view.result.exit_code not in (None, 0):
        return Content.styled(f"exit {view.result.exit_code:<4}", "bold $text-error")
    if state == State.DONE and view.result is not None and view.result.exit_code == 0:
        word = "done 0"
    return Content.styled(f"{word:<9.9}", _STATE_STYLE.get(state, ""))


def summary(view: ViewLike) -> tuple[Content, bool]:
    """The row's text and whether it is the whole of what the reviewer must see."""
    action = view.action
    if isinstance(action, CommandAction):
        safe, cut = one_line(action.command, SUMMARY_LIMIT)
        text = safe.content()
        if cut:
            text = text + Content.styled(
                f" … (+{len(action.command) - SUMMARY_LIMIT} chars, open to see)", "italic $warning"
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
            return safe.content() + Content.styled(f"  +{added} −{removed}", "$text-muted"), False
        return Content("patch"), False
    assert isinstance(action, NetworkAction)
    line = f"{action.method} {action.scheme}://{action.host}:{action.port}"
    if action.program:
        line += f"  ({action.program})"
    safe, cut = one_line(line, SUMMARY_LIMIT)
    return safe.content(), not cut and not safe.hazardous


def action_prompt(view: ViewLike) -> tuple[Content, bool]:
    body, complete = summary(view)
    mark = _KIND_MARK.get(view.action.kind, "?")
    warn = ""
    if isinstance(view.action, CommandAction) and make_safe(view.action.command).hazardous:
        warn = "⚠ "
    critical = view.assessment is not None and view.assessment.level is Level.CRITICAL
    parts = [
        badge(view),
        Content(" "),
        state_label(view),
        Content(" "),
        Content.styled(f"{mark} ", "$text-muted"),
    ]
    if warn:
        parts.append(Content.styled(warn, "bold $text-warning"))
    parts.append(body.stylize_before("bold") if critical else body)
    return Content("").join(parts), complete


class QueueList(OptionList, inherit_bindings=False):
    """Moves with j/k and the arrows; everything else is the screen's business."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", id="cursor-down", show=False),
        Binding("up,k", "cursor_up", "Up", id="cursor-up", show=False),
        Binding("home,g", "first", "First", id="cursor-first", show=False),
        Binding("end,G", "last", "Last", id="cursor-last", show=False),
        Binding("pagedown", "page_down", "Page down", id="page-down", show=False),
        Binding("pageup", "page_up", "Page up", id="page-up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[RowInfo] = []
        self._painted: dict[int, set[int]] = {}
        self.seen: set[str] = set()
        self.on_seen: Callable[[set[str]], None] | None = None

    # ------------------------------------------------------------------ content

    def set_rows(self, rows: Sequence[tuple[RowInfo, Content]]) -> bool:
        """Replace the rows, keeping the cursor on the same action. True if rows were only
        appended (existing rows keep their old prompts: update them yourself)."""
        keep = self.highlighted_row()
        old_keys = [(r.action_id, r.turn_id) for r in self.rows]
        new_keys = [(r.action_id, r.turn_id) for r, _ in rows]
        if new_keys[: len(old_keys)] == old_keys and old_keys:
            # The common case: new rows at the end. Appending keeps the queue's scroll and cache.
            extra = rows[len(old_keys) :]
            self.add_options(self._option(info, prompt) for info, prompt in extra)
            self.rows.extend(info for info, _ in extra)
            return True
        self.rows = [info for info, _ in rows]
        self._painted.clear()
        self.set_options(self._option(info, prompt) for info, prompt in rows)
        if keep is not None:
            for index, info in enumerate(self.rows):
                if info.action_id == keep.action_id and info.turn_id == keep.turn_id:
                    self.highlighted = index
                    break
        elif self.highlighted is None:
            self.action_first()
        return False

    def update_row(self, index: int, info: RowInfo, prompt: Content) -> None:
        self.rows[index] = info
        self._painted.pop(index, None)
        self.replace_option_prompt_at_index(index, prompt)

    @staticmethod
    def _option(info: RowInfo, prompt: Content) -> Option:
        return Option(prompt, disabled=info.action_id is None)

    def highlighted_row(self) -> RowInfo | None:
        if self.highlighted is None or self.highlighted >= len(self.rows):
            return None
        return self.rows[self.highlighted]

    def index_of(self, action_id: str) -> int | None:
        for index, info in enumerate(self.rows):
            if info.action_id == action_id:
                return index
        return None

    # ------------------------------------------------------------------ what was on screen

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        line = self.scroll_offset.y + y
        try:
            option_index, offset = self._lines[line]
            height = self._heights[option_index]
        except (IndexError, KeyError):
            return strip
        painted = self._painted.setdefault(option_index, set())
        painted.add(offset)
        if len(painted) >= height and option_index < len(self.rows):
            info = self.rows[option_index]
            if info.action_id is not None and info.complete and info.action_id not in self.seen:
                self.seen.add(info.action_id)
                if self.on_seen is not None:
                    self.on_seen({info.action_id})
        return strip
