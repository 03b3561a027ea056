"""The README's screenshots are written so that any SVG renderer shows the spaces where the
terminal has them (librsvg drops a run's leading no-break spaces and squeezes the run)."""

from __future__ import annotations

import re

from app.ui.screenshots import tidy_svg

RUN = (
    '<text class="r5" x="1110.2" y="142" textLength="73.2" clip-path="url(#l5)">'
    "&#160;git&#160;s</text>"
)


def test_leading_spaces_become_position() -> None:
    out = tidy_svg(RUN)
    assert ">git&#160;s</text>" in out
    assert 'x="1122.4"' in out and 'textLength="61"' in out


def test_runs_without_leading_spaces_and_blank_runs_stay() -> None:
    plain = RUN.replace("&#160;git", "git&#160;")
    assert tidy_svg(plain) == plain
    blank = re.sub(r">[^<]*</text>", ">&#160;&#160;</text>", RUN)
    assert tidy_svg(blank) == blank


def test_a_whole_export_keeps_its_text() -> None:
    svg = "\n".join(RUN.replace("142", str(y)) for y in range(3))
    out = tidy_svg(svg)
    strip = re.compile(r"<[^>]+>|&#160;")
    assert strip.sub("", out) == strip.sub("", svg)
