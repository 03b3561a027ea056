"""The patch diff: per-file headers with +/- counts, each file coloured for its language,
collapsible, drawn lazily so a ten-thousand-line diff paints as fast as a ten-line one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import BindingType
from textual.content import Content

from app.ui import bindings
from app.ui.diff_model import DiffDocument, DiffRow
from app.ui.highlight import token_spans
from app.ui.safe import make_safe, spaced
from app.ui.widgets.document import Block, layout_blocks
from app.ui.widgets.lines import LinesView

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


@dataclass(frozen=True)
class Preface:
    """A line above the diff (title, risk, counts), already wrapped to the width."""

    content: Content


ViewRow = FileHeader | DiffRow | Preface


class DiffView(LinesView[ViewRow]):
    """`space` folds the file at the top of the view; `c` folds or unfolds them all.

    A line longer than the view ends in a `›` at the right edge (and starts with `‹` once the
    view is scrolled sideways): what is not on screen is never silently cut off.

    Component classes:
    - `diff-view--more`: the `›`/`‹` markers of a line that goes on beyond the view.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"diff-view--more"}
    OVERFLOW_CLASS = "diff-view--more"
    DEFAULT_CSS = """
    DiffView > .diff-view--more {
        color: $text-warning;
        text-style: bold reverse;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = list(bindings.DIFF)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.document = DiffDocument(files=())
        self.collapsed: set[int] = set()
        self.preface: list[Block] = []
        self.flags: dict[str, str] = {}  # path → why it is dangerous: marked in its header
        self._laid_width = 0

    # ------------------------------------------------------------------ content

    def show(
        self,
        document: DiffDocument,
        *,
        collapsed: set[int] | None = None,
        preface: list[Block] | None = None,
        flags: dict[str, str] | None = None,
    ) -> None:
        self.document = document
        self.flags = dict(flags or {})
        self.collapsed = set(collapsed or ())
        self.preface = list(preface or [])
        self._rebuild(keep_file=None)

    def set_preface(self, preface: list[Block]) -> None:
        """Replace the lines above the diff, keeping the diff and the scroll position."""
        y = self.scroll_y
        self.preface = list(preface)
        self._rebuild(keep_file=None)
        self.scroll_to(y=y, animate=False, immediate=True)

    def on_resize(self) -> None:
        super().on_resize()
        width = self.scrollable_content_region.width
        if self.preface and width and width != self._laid_width:
            y = self.scroll_y
            self._rebuild(keep_file=None)
            self.scroll_to(y=y, animate=False, immediate=True)

    def _rebuild(self, keep_file: int | None) -> None:
        width = self.scrollable_content_region.width or self.size.width or 80
        self._laid_width = width
        rows: list[ViewRow] = [Preface(c) for c in layout_blocks(self.preface, width)]
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
        if isinstance(row, Preface):
            return 1
        # An estimate (exact widths are learnt when rows are drawn): len() is ten times cheaper
        # than measuring cells, and a ten-thousand-line diff pays it for every line.
        if isinstance(row, FileHeader):
            return len(self.document.files[row.file].path) + 40
        return len(row.text) + 14

    def row_content(self, row: ViewRow) -> Content:
        if isinstance(row, Preface):
            return row.content
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
        why = self.flags.get(f.path)
        parts = [
            Content.styled(f"{fold} ", "bold $text-accent"),
            *([Content.styled("⚠ DANGEROUS ", "bold $text-error")] if why else []),
            make_safe(f.path, keep_newlines=False).content().stylize_before("bold"),
            Content("  "),
            Content.styled(f"+{f.added}", "bold $diff-added"),
            Content(" "),
            Content.styled(f"−{f.removed}", "bold $diff-removed"),
        ]
        if status:
            parts.append(spaced(f"  {status}", "italic $text-warning"))
        if why:
            parts.append(spaced(f"  {why}", "bold $text-error"))
        if f.language != "text":
            parts.append(spaced(f"  {f.language}", "$text-muted"))
        if index in self.collapsed:
            parts.append(spaced(f"  ({len(f.rows)} lines folded)", "$text-muted"))
        return Content("").join(parts)

    # ------------------------------------------------------------------ folding

    def visible_contents(self) -> list[Content]:
        top = int(self.scroll_y)
        height = self.scrollable_content_region.height or len(self.rows)
        return [self.row_content(r) for r in self.rows[top : top + height]]

    def file_at_top(self) -> int | None:
        for row in self.rows[int(self.scroll_y) :]:
            if not isinstance(row, Preface):
                return row.file
        return None

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
        row = self.rows[y] if 0 <= y < len(self.rows) else None
        if isinstance(row, FileHeader):
            index = row.file
            self.collapsed ^= {index}
            self._rebuild(keep_file=index)
