"""Highlighting a command (bash colours, risky spans, hazard markers) and folding it into the
detail box never drops, adds or moves a character: what is shown is the display-safe text of
exactly what will run."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from textual.content import Content
from uikit import cmd, console

from app.core.pipeline import ActionState
from app.ui.safe import make_safe
from app.ui.widgets.detail import DetailPane, command_content
from app.ui.widgets.document import Block, fold_exact, layout_blocks

CHARS = [
    *"abcdrm -/.&|;$\"'()=*~\\",
    "  ",
    "\n",
    "\t",
    "\x1b",
    "\x07",
    "\r",
    "\u202e",
    "\u200b",
    "\u00a0",
    "中",
    "é",
    "e\u0301",
    "а",  # Cyrillic a
]

commands = st.lists(st.sampled_from(CHARS), max_size=60).map("".join)
raw_spans = st.lists(st.tuples(st.integers(0, 130), st.integers(0, 130)), max_size=6)


def _box_inner(lines: list[Content]) -> list[str]:
    return [line.plain[2:-2] for line in lines[1:-1]]


@settings(max_examples=150, deadline=None)
@given(command=commands, pairs=raw_spans, width=st.integers(4, 70))
def test_highlighting_and_folding_keep_every_character(
    command: str, pairs: list[tuple[int, int]], width: int
) -> None:
    spans = tuple((min(a, b), max(a, b)) for a, b in pairs)
    content, _ = command_content(command, spans)
    display = make_safe(command, flag_lookalikes=True).display
    assert content.plain == display
    # What the terminal is sent: the segments of each line, put together.
    lines = content.split("\n", allow_blank=True)
    assert "\n".join("".join(s.text for s in line.render_segments()) for line in lines) == display
    for line in lines:
        pieces = fold_exact(line, width)
        assert "".join(p.plain for p in pieces) == line.plain
        assert all(cell_len(p.plain) <= width or len(p.plain) == 1 for p in pieces)
    # In the detail box: each row is a piece, then padding to the box's width.
    box = layout_blocks([Block(content, kind="box", style="$primary", title="t")], width + 4)
    shown = [p.plain for line in lines for p in fold_exact(line, width)]
    inner = _box_inner(box)
    assert len(inner) == len(shown)
    for row, piece in zip(inner, shown, strict=True):
        assert row.startswith(piece) and row[len(piece) :].strip() == ""


def test_spaces_next_to_highlighted_spans_survive() -> None:
    command = "rm -rf build dist && git status --short"
    spans = ((7, 12), (13, 17))
    content, _ = command_content(command, spans)
    assert content.plain == command
    for width in range(8, 45):
        pieces = [p.plain for p in fold_exact(content, width)]
        assert "".join(pieces) == command, width


async def test_detail_pane_shows_the_command_character_for_character(workspace: Path) -> None:
    command = "rm -rf build dist && git status --short"
    async with console(workspace, size=(120, 40)) as c:
        c.link.turn("t1", [cmd(command, n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        assert f"│ {command} " in c.main.query_one(DetailPane).text
        assert f"│ {command} " in c.text
    # Narrow: folded, the break after a space, nothing lost.
    async with console(workspace, size=(60, 40)) as c:
        c.link.turn("t1", [cmd(command, n=1)])
        await c.until(lambda: c.state("cmd-t1-1") == ActionState.WAITING)
        await c.select("cmd-t1-1")
        rows = [r for r in c.main.query_one(DetailPane).text.splitlines() if r.startswith("│ ")]
        assert len(rows) >= 2
        assert "".join(r[2:-2].rstrip(" ") + " " for r in rows).strip() == command
