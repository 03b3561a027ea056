"""The patch diff: per-file headers with +/- counts, each file coloured for its language,
collapsible, drawn lazily so a ten-thousand-line diff paints as fast as a ten-line one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content

from app.ui.diff_model import DiffDocument, DiffRow
from app.ui.highlight import token_spans
from app.ui.safe import make_safe
from app.ui.widgets.lines import LinesView, estimate_width

_SIGN = {"add": "+", "del": "-", "ctx": " "}
_LINE_STYLE = {
    "add": "$diff-added on $diff-added-background",
    "del": "$diff-removed on $diff-removed-background",
}
_STATUS_WORD = {
    "added": "new file",
    "deleted": "deleted",
    "renamed": "renamed",
    "binary": "binary",
    "modified": "",
}


@dataclass(frozen=True)
class FileHeader:
    file: int


ViewRow = FileHeader | DiffRow


class DiffView(LinesView[ViewRow]):
    """`space` folds the file at the top of the view; `c` folds or unfolds them all."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_file", "Fold file", id="diff-fold-file"),
        Binding("c", "toggle_all", "Fold all", id="diff-fold-all"),
        Binding("right_square_bracket", "next_file", "Next file", id="diff-next-file"),
        Binding("left_square_bracket", "previous_file", "Previous file", id="diff-previous-file"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.document = DiffDocument(files=())
        self.collapsed: set[int] = set()

    # ------------------------------------------------------------------ content

    def show(self, document: DiffDocument, *, collapsed: set[int] | None = None) -> None:
        self.document = document
        self.collapsed = set(collapsed or ())
        self._rebuild(keep_file=None)

    def _rebuild(self, keep_file: int | None) -> None:
        rows: list[ViewRow] = []
        target = 0
        for index, f in enumerate(self.document.files):
            if index == keep_file:
                target = len(rows)
            rows.append(FileHeader(index))
            if index not in self.collapsed:
                rows.extend(f.rows)
        self.set_rows(rows)
        if target:
            self.scroll_to(y=target, animate=False, immediate=True)

    def row_width(self, row: ViewRow) -> int:
        if isinstance(row, FileHeader):
            return estimate_width(self.document.files[row.file].path, 40)
        return estimate_width(row.text, 14)

    def row_content(self, row: ViewRow) -> Content:
        if isinstance(row, FileHeader):
            return self._header_content(row.file)
        if row.kind in ("add", "del", "ctx"):
            f = self.document.files[row.file]
            safe = make_safe(row.text)
            body = safe.content(token_spans(row.text, f.language))
            old = "" if row.old_no is None else str(row.old_no)
            new = "" if row.new_no is None else str(row.new_no)
            gutter = Content.styled(f"{old:>5} {new:>5} ", "$text-muted")
            sign = Content(_SIGN[row.kind])
            line = sign + body
            style = _LINE_STYLE.get(row.kind)
            if style:
                line = line.stylize_before(style)
            return gutter + line
        if row.kind == "hunk":
            return Content.styled(" " * 12, "") + make_safe(row.text).content().stylize_before(
                "$diff-hunk"
            )
        return Content.styled(" " * 12, "") + make_safe(row.text).content().stylize_before(
            "$text-muted"
        )

    def _header_content(self, index: int) -> Content:
        f = self.document.files[index]
        fold = "▸" if index in self.collapsed else "▾"
        status = _STATUS_WORD.get(f.status, "")
        parts = [
            Content.styled(f"{fold} ", "bold $accent"),
            make_safe(f.path, keep_newlines=False).content().stylize_before("bold"),
            Content("  "),
            Content.styled(f"+{f.added}", "bold $diff-added"),
            Content(" "),
            Content.styled(f"−{f.removed}", "bold $diff-removed"),
        ]
        if status:
            parts.append(Content.styled(f"  {status}", "italic $warning"))
        if f.language != "text":
            parts.append(Content.styled(f"  {f.language}", "$text-muted"))
        if index in self.collapsed:
            parts.append(Content.styled(f"  ({len(f.rows)} lines folded)", "$text-muted"))
        return Content("").join(parts)

    # ------------------------------------------------------------------ folding

    def file_at_top(self) -> int | None:
        if not self.rows:
            return None
        row = self.rows[min(int(self.scroll_y), len(self.rows) - 1)]
        return row.file

    def action_toggle_file(self) -> None:
        index = self.file_at_top()
        if index is None:
            return
        self.collapsed ^= {index}
        self._rebuild(keep_file=index)

    def action_toggle_all(self) -> None:
        every = set(range(len(self.document.files)))
        self.collapsed = set() if self.collapsed == every else every
        self._rebuild(keep_file=None)

    def _header_rows(self) -> list[int]:
        return [i for i, r in enumerate(self.rows) if isinstance(r, FileHeader)]

    def action_next_file(self) -> None:
        top = int(self.scroll_y)
        for y in self._header_rows():
            if y > top:
                self.scroll_to(y=y, animate=False)
                return

    def action_previous_file(self) -> None:
        top = int(self.scroll_y)
        for y in reversed(self._header_rows()):
            if y < top:
                self.scroll_to(y=y, animate=False)
                return

    def on_click(self, event: events.Click) -> None:
        y = int(self.scroll_y) + event.y
        if 0 <= y < len(self.rows) and isinstance(self.rows[y], FileHeader):
            index = self.rows[y].file
            self.collapsed ^= {index}
            self._rebuild(keep_file=index)
