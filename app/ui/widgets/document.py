"""A scrollable document of wrapped blocks, drawn line by line.

The detail pane changes every time the cursor moves; as one line-API widget it repaints without
asking the whole screen to lay itself out again, and a command of any length costs only the lines
on screen to draw. Text is folded at the width, never cut: a long word continues on the next line. A box (the text
that will run) is folded without losing a character, spaces included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from textual.content import Content

from app.ui.widgets.lines import LinesView


@dataclass(frozen=True)
class Block:
    content: Content
    kind: Literal["text", "box", "band"] = "text"
    style: str = ""  # box: the border's style; band: the band's style (a background)
    title: str = ""  # box only
    hang: int = 0  # text only: continuation lines are indented this much (under a label column)


def _wrap(content: Content, width: int, hang: int = 0) -> list[Content]:
    """Fold each line at `width`. With `hang`, a line's first `hang` characters are a label
    column: the rest wraps beside it and continuation lines start under it."""
    width = max(4, width)
    hang = min(hang, width // 2)
    lines: list[Content] = []
    for line in content.split("\n", allow_blank=True):
        if line.cell_length <= width:
            lines.append(line)
            continue
        if hang and len(line.plain) > hang:
            head, body = line[:hang], line[hang:]
            wrapped = body.wrap(width - hang, overflow="fold") or [Content("")]
            lines.append(head + wrapped[0])
            lines.extend(Content(" " * hang) + more for more in wrapped[1:])
            continue
        lines.extend(line.wrap(width, overflow="fold") or [Content("")])
    return lines


def fold_exact(line: Content, width: int) -> list[Content]:
    """Fold one line at `width` cells keeping every character, so the pieces put together are
    exactly the line: a break goes after the last space that fits (the space stays at the end of
    its piece, never dropped), else inside the word or before the space. For what is approved: word wrapping would
    swallow the spaces at its breaks."""
    text = line.plain
    width = max(2, width)
    if cell_len(text) <= width:
        return [line]
    pieces: list[Content] = []
    start, n = 0, len(text)
    ascii_only = text.isascii()
    while start < n:
        if ascii_only:
            end = min(n, start + width)
        else:
            end, cells = start, 0
            while end < n and cells + (w := cell_len(text[end])) <= width:
                cells += w
                end += 1
            end = max(end, start + 1)  # a character wider than the width still goes somewhere
        if end < n:
            # After the last space that fits, so the next piece does not start with a space.
            space = text.rfind(" ", start, end)
            if space >= start and not (space == start and text[end] == " "):
                end = space + 1
        pieces.append(line[start:end])
        start = end
    return pieces


def _fold_lines(content: Content, width: int) -> list[Content]:
    width = max(4, width)
    out: list[Content] = []
    for line in content.split("\n", allow_blank=True):
        out.extend(fold_exact(line, width))
    return out


def layout_blocks(blocks: list[Block], width: int) -> list[Content]:
    out: list[Content] = []
    width = max(8, width)
    for block in blocks:
        if block.kind == "text":
            out.extend(_wrap(block.content, width, block.hang))
        elif block.kind == "band":
            for line in _wrap(block.content, width - 2):
                padded = Content(" ") + line
                padded = padded.extend_right(max(0, width - padded.cell_length))
                out.append(padded.stylize_before(block.style))
        else:
            inner = width - 4
            title = f" {block.title} " if block.title else ""
            top = "╭─" + title + "─" * max(0, width - 3 - len(title)) + "╮"
            out.append(Content.styled(top[:width], block.style))
            for line in _fold_lines(block.content, inner):
                pad = max(0, inner - line.cell_length)
                out.append(
                    Content.styled("│ ", block.style)
                    + line
                    + Content(" " * pad)
                    + Content.styled(" │", block.style)
                )
            out.append(Content.styled("╰" + "─" * (width - 2) + "╯", block.style))
    return out


class DocumentView(LinesView[Content]):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._blocks: list[Block] = []
        self._laid_width = 0

    def row_content(self, row: Content) -> Content:
        return row

    def row_width(self, row: Content) -> int:
        return 1  # folded to the width: never scrolls sideways

    def show_blocks(self, blocks: list[Block], *, keep_scroll: bool = False) -> None:
        self._blocks = blocks
        self._relayout(keep_scroll=keep_scroll)

    def _relayout(self, *, keep_scroll: bool) -> None:
        width = self.scrollable_content_region.width or self.size.width or 80
        self._laid_width = width
        y = self.scroll_y
        self.set_rows(layout_blocks(self._blocks, width))
        if keep_scroll:
            self.scroll_to(y=y, animate=False, immediate=True)

    def on_resize(self) -> None:
        super().on_resize()
        width = self.scrollable_content_region.width
        if width and width != self._laid_width and self._blocks:
            self._relayout(keep_scroll=True)

    @property
    def plain(self) -> str:
        return "\n".join(row.plain for row in self.rows)
