"""The detail pane's layout: text folds at the width and is never cut; boxes close."""

from __future__ import annotations

from textual.content import Content

from app.ui.widgets.document import Block, layout_blocks


def test_long_words_fold_and_nothing_is_lost() -> None:
    word = "a" * 250
    lines = layout_blocks([Block(Content(word))], 60)
    assert all(line.cell_length <= 60 for line in lines)
    assert "".join(line.plain for line in lines) == word


def test_box_lines_are_all_the_same_width_and_keep_the_text() -> None:
    text = "rm -rf build && " + "x" * 200
    lines = layout_blocks([Block(Content(text), kind="box", style="$primary", title="t")], 50)
    assert {line.cell_length for line in lines} == {50}
    inner = "".join(line.plain[2:-2].rstrip() for line in lines[1:-1])
    assert inner.replace(" ", "") == text.replace(" ", "")
    assert lines[0].plain.startswith("╭─ t ") and lines[-1].plain.startswith("╰")


def test_hanging_indent_keeps_the_label_column() -> None:
    row = Content("policy    " + "word " * 30)
    lines = layout_blocks([Block(row, hang=10)], 40)
    assert lines[0].plain.startswith("policy    word")
    assert all(line.plain.startswith(" " * 10) for line in lines[1:])
