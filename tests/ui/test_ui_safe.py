"""Display safety: hostile text is shown as visible markers, never passed to the terminal raw,
and nothing is dropped (what is approved is what was shown, character for character)."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from app.ui.safe import make_safe, one_line

HOSTILE = {
    "csi colour": "echo \x1b[31mred\x1b[0m",
    "cursor up + erase": "ls\x1b[1A\x1b[2K",
    "osc 52 clipboard": "printf '\x1b]52;c;cm0gLXJmIH4=\x07'",
    "window title": "\x1b]0;pwned\x07true",
    "carriage return overwrite": "rm -rf ~ \r echo harmless",
    "bidi override": "cat safe\u202e.txt\u202c.sh",
    "zero width": "curl evil\u200b.com",
    "tag smuggling": "ok\U000e0072\U000e006d",
    "nbsp": "rm\u00a0-rf /",
    "c1 csi": "echo \x9b31m",
    "nul and bell": "a\x00b\x07c",
    "delete": "a\x7fb",
    "line separator": "echo a\u2028rm -rf /",
}

_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}


def _raw_danger(display: str) -> list[str]:
    bad = []
    for ch in display:
        if ch == "\n":
            continue
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            bad.append(ch)
        if unicodedata.category(ch) == "Zs" and ch != " ":
            bad.append(ch)
    return bad


def test_every_hostile_sample_is_neutralised_and_warned() -> None:
    for name, text in HOSTILE.items():
        safe = make_safe(text)
        assert _raw_danger(safe.display) == [], name
        assert safe.hazardous, name
        assert safe.warnings, name


def test_markers_name_what_they_replace() -> None:
    assert "␛[31m" in make_safe(HOSTILE["csi colour"]).display
    assert "⟨RLO⟩" in make_safe(HOSTILE["bidi override"]).display
    assert "⟨ZWSP⟩" in make_safe(HOSTILE["zero width"]).display
    assert "␍" in make_safe(HOSTILE["carriage return overwrite"]).display
    assert "⟨NBSP⟩" in make_safe(HOSTILE["nbsp"]).display
    assert "⟨TAG r⟩⟨TAG m⟩" in make_safe(HOSTILE["tag smuggling"]).display
    assert "⟨U+009B⟩" in make_safe(HOSTILE["c1 csi"]).display
    assert "␀" in make_safe(HOSTILE["nul and bell"]).display
    assert "␇" in make_safe(HOSTILE["nul and bell"]).display


def test_warnings_name_the_escape_sequence() -> None:
    warnings = " ".join(make_safe(HOSTILE["osc 52 clipboard"]).warnings)
    assert "OSC 52 clipboard write" in warnings
    assert "title" in " ".join(make_safe(HOSTILE["window title"]).warnings)
    assert "different order" in " ".join(make_safe(HOSTILE["bidi override"]).warnings)


def test_plain_text_is_untouched() -> None:
    text = "git status && ls -la | grep '^d'\nmake test"
    safe = make_safe(text)
    assert safe.display == text
    assert not safe.hazards
    assert safe.offsets == tuple(range(len(text) + 1))


def test_newlines_kept_or_marked() -> None:
    assert make_safe("a\nb").display == "a\nb"
    line, cut = one_line("a\nb", 100)
    assert line.display == "a⏎b" and not cut
    assert not line.hazardous  # a newline in a one-line summary is not a hazard


def test_spans_map_onto_the_display() -> None:
    text = "echo \x1b[31m; rm -rf /"
    safe = make_safe(text)
    start = text.index("rm")
    ds, de = safe.map_span(start, start + len("rm -rf /"))
    assert safe.display[ds:de] == "rm -rf /"


def test_lookalikes_flagged_for_commands() -> None:
    safe = make_safe("curl https://exаmple.com", flag_lookalikes=True)  # Cyrillic а
    assert any(h.kind == "lookalike" for h in safe.hazards)
    assert not safe.hazardous  # shown as is, underlined; a soft warning, not a marker
    assert "look-alikes" in " ".join(safe.warnings)


def test_long_summary_is_cut_and_says_so() -> None:
    line, cut = one_line("x" * 500, 160)
    assert cut and len(line.display) == 160


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_no_raw_control_ever_reaches_the_display(text: str) -> None:
    safe = make_safe(text)
    assert _raw_danger(safe.display) == []
    assert len(safe.offsets) == len(text) + 1
    assert list(safe.offsets) == sorted(safe.offsets)
    # Nothing is dropped: every printable ASCII character of the source is in the display.
    for i, ch in enumerate(text):
        if " " <= ch <= "~":
            assert safe.display[safe.offsets[i]] == ch
