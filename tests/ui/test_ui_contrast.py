"""Every text/background pair the console paints, in every shipped theme, meets WCAG contrast:
at least 4.5:1 for text, 3:1 for borders. The colours come from the theme files through
Textual's own colour system (so `$text-muted`, `auto 87%`, `$primary 35%` resolve as on screen).

The pairs are the ones the console's styles use; a new style should add its pair here.
"""

from __future__ import annotations

import pytest
from textual.color import Color

from app.ui.themes import builtin_theme_dir, load_theme_file

THEMES = ("dark", "light", "high-contrast")
LEVELS = ("safe", "low", "medium", "high", "critical")
CURSOR = "primary 25% on surface"  # the queue's selected row (QueueList's queue--cursor)

# (foreground, background, where): backgrounds may be "X on Y" (X with alpha over Y).
TEXT: list[tuple[str, str, str]] = [
    ("foreground", "surface", "queue rows, detail text"),
    ("foreground", "background", "output, agent and files panes"),
    ("foreground", "panel", "header values"),
    ("text-muted", "surface", "labels, gutters"),
    ("text-muted", "background", "output gutters"),
    ("text-muted", "panel", "header labels"),
    ("text-warning", "surface", "waiting, warnings"),
    ("text-error", "surface", "failed, denied, stderr gutter"),
    ("text-success", "surface", "approved, done"),
    ("text-accent", "surface", "running"),
    ("text-primary", "surface", "batch headers"),
    ("text-error", "background", "err│ gutter, failed runs"),
    ("text-accent", "background", "start/end of a run"),
    ("text-warning", "background", "files changed while nothing ran"),
    ("foreground", CURSOR, "the selected row"),
    ("text-warning", CURSOR, "waiting, on the selected row"),
    ("text-error", CURSOR, "denied, on the selected row"),
    ("text-success", CURSOR, "done, on the selected row"),
    ("text-accent", CURSOR, "running, on the selected row"),
    ("text-muted", CURSOR, "kind mark, on the selected row"),
    ("diff-added", "diff-added-background", "added diff lines"),
    ("diff-removed", "diff-removed-background", "removed diff lines"),
    ("diff-added", "surface", "+N counts, edit diffs"),
    ("diff-removed", "surface", "−N counts, edit diffs"),
    ("diff-hunk", "surface", "hunk headers"),
    ("unsafe-marker", "unsafe-marker-background", "hidden-character markers"),
    ("foreground", "risk-span", "risky spans in a command"),
    ("text-warning", "warning-muted", "the warnings band"),
    ("text-accent", "surface", "fold markers"),
    ("surface", "text-warning", "› markers of wide diff lines (reverse)"),
    ("background", "text-warning", "› markers of wide output lines (reverse)"),
    ("footer-key-foreground", "footer-background", "footer keys"),
    ("footer-description-foreground", "footer-background", "footer descriptions"),
    ("panel", "primary", "the header's brand (reverse)"),
    ("background", "error", "the weaker-protection banner"),
    ("untrusted", "panel", "the header's taint state"),
    ("untrusted", "surface", "untrusted marks in the queue and the detail"),
    ("untrusted", CURSOR, "an untrusted mark, on the selected row"),
    ("untrusted", "background", "the scanner's words in the output pane"),
    ("foreground", "injection-span", "what the injection scanner found, highlighted"),
    *[(f"risk-{lv}", "surface", f"{lv} finding scores") for lv in LEVELS],
    *[("risk-badge-text", f"risk-{lv}", f"{lv} badges") for lv in LEVELS],
]
BORDERS: list[tuple[str, str, str]] = [
    ("pane-border", "surface", "unfocused queue and detail"),
    ("pane-border", "background", "unfocused bottom panes"),
    ("primary", "surface", "focused pane, dialogs"),
    ("primary", "background", "focused bottom pane"),
    ("risk-critical", "surface", "a critical action's frame"),
    ("risk-critical", "background", "the critical confirmation"),
    ("warning", "background", "files pane with unattributed changes"),
    ("warning", "surface", "the frame of a command with hidden characters"),
]


def luminance(c: Color) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)


def ratio(a: Color, b: Color) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


class Palette:
    def __init__(self, name: str) -> None:
        theme = load_theme_file(builtin_theme_dir() / f"{name}.toml")
        self.values = {**theme.to_color_system().generate(), **theme.variables}

    def colour(self, spec: str, under: Color | None = None) -> Color:
        """`spec`: a variable, "var NN%" (alpha), "X on Y", or Textual's "auto NN%"."""
        if " on " in spec:
            top, bottom = spec.split(" on ", 1)
            return self.colour(top, self.colour(bottom))
        name, _, alpha = spec.partition(" ")
        value = self.values[name]
        base = under if under is not None else Color.parse(self.values["background"])
        if value.startswith("auto"):
            pct = float(value.split()[1].rstrip("%")) / 100 if " " in value else 1.0
            return base + base.get_contrast_text(pct)
        colour = Color.parse(value)
        if alpha:
            colour = colour.with_alpha(float(alpha.rstrip("%")) / 100)
        return base + colour


def _failures(theme: str, pairs: list[tuple[str, str, str]], minimum: float) -> list[str]:
    palette = Palette(theme)
    out = []
    for fg, bg, where in pairs:
        back = palette.colour(bg)
        value = ratio(palette.colour(fg, back), back)
        if value < minimum:
            out.append(f"{theme}: {fg} on {bg} ({where}) is {value:.2f}:1")
    return out


@pytest.mark.parametrize("theme", THEMES)
def test_text_contrast_is_at_least_4_5(theme: str) -> None:
    assert _failures(theme, TEXT, 4.5) == []


@pytest.mark.parametrize("theme", THEMES)
def test_border_contrast_is_at_least_3(theme: str) -> None:
    assert _failures(theme, BORDERS, 3.0) == []


def test_the_ratio_is_wcags() -> None:
    assert round(ratio(Color(0, 0, 0), Color(255, 255, 255)), 1) == 21.0
    assert round(ratio(Color(119, 119, 119), Color(255, 255, 255)), 2) == 4.48
