"""Display safety: untrusted text (commands, paths, diffs, output) is shown, never interpreted.

Whatever the agent or a program writes reaches the reviewer's eyes only through `make_safe`:
control characters, escape sequences (colours, cursor moves, window titles, OSC 52 clipboard
writes), carriage returns, bidi overrides, zero-width and other invisible or look-alike spaces
become visible markers such as `␛`, `␍` or `⟨RLO⟩`. Nothing is dropped, so what is approved is
exactly what was shown, character for character, with the hazards spelled out. The mapping from
source offsets to display offsets lets risk spans and syntax colours land on the right characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from textual.content import Content, Span

MARKER_STYLE = "bold $unsafe-marker on $unsafe-marker-background"
SOFT_MARKER_STYLE = "$text-muted"
LOOKALIKE_STYLE = "underline $unsafe-marker"

_BIDI = {
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u061c": "ALM",
}
_INVISIBLE = {
    "\u200b": "ZWSP",
    "\u200c": "ZWNJ",
    "\u200d": "ZWJ",
    "\u2060": "WJ",
    "\ufeff": "BOM",
    "\u180e": "MVS",
    "\u2061": "U+2061",
    "\u2062": "U+2062",
    "\u2063": "U+2063",
    "\u2064": "U+2064",
    "\u00ad": "SHY",
    "\u034f": "CGJ",
    "\u115f": "U+115F",
    "\u1160": "U+1160",
    "\u3164": "U+3164",
    "\uffa0": "U+FFA0",
    "\u17b4": "U+17B4",
    "\u17b5": "U+17B5",
    "\u2800": "U+2800",
    "\u2028": "LSEP",
    "\u2029": "PSEP",
    "\ufff9": "U+FFF9",
    "\ufffa": "U+FFFA",
    "\ufffb": "U+FFFB",
}
_SPACES = {"\u00a0": "NBSP", "\u202f": "NNBSP", "\u3000": "U+3000", "\u1680": "U+1680"}

_PLAIN = re.compile(r"[\x20-\x7e\n]*")
"""Printable ASCII and newlines: the common case, which needs no work at all."""

# kind -> how the warning reads
_KIND_WORDS = {
    "escape": "escape sequence",
    "control": "control character",
    "carriage-return": "carriage return",
    "bidi": "bidi control",
    "invisible": "invisible character",
    "space": "look-alike space",
    "tag": "hidden tag character",
    "unassigned": "unassigned or private character",
    "lookalike": "non-ASCII letter",
}
_KIND_WHY = {
    "escape": "a terminal would act on it",
    "control": "a terminal would act on it",
    "carriage-return": "it can hide text a terminal would overwrite",
    "bidi": "text may display in a different order than it runs",
    "invisible": "it is invisible in most terminals",
    "space": "it looks like a space but is not one to the shell",
    "tag": "it carries hidden text",
    "unassigned": "it has no agreed glyph",
    "lookalike": "check for look-alikes of ASCII letters",
}


@dataclass(frozen=True)
class Hazard:
    """One character (or escape sequence) that is not what it looks like."""

    kind: str
    index: int  # offset in the source text
    marker: str  # what is shown instead
    detail: str = ""  # e.g. "OSC 52 clipboard write"


@dataclass(frozen=True)
class SafeText:
    """A piece of untrusted text made safe to display.

    `display` is what goes on screen; `offsets[i]` is where source character `i` starts in it
    (with one extra entry for the end), so spans over the source map onto the display.
    """

    source: str
    display: str
    offsets: tuple[int, ...]
    markers: tuple[tuple[int, int, str], ...]  # display spans of substituted characters + style
    hazards: tuple[Hazard, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        return describe_hazards(self.hazards)

    @property
    def hazardous(self) -> bool:
        return any(h.kind != "lookalike" for h in self.hazards)

    def map_span(self, start: int, end: int) -> tuple[int, int]:
        n = len(self.source)
        start = max(0, min(start, n))
        end = max(start, min(end, n))
        return self.offsets[start], self.offsets[end]

    def content(self, spans: Iterable[tuple[int, int, str]] = ()) -> Content:
        """The display text as Content: `spans` (over the *source*) first, markers on top."""
        out: list[Span] = []
        for start, end, style in spans:
            ds, de = self.map_span(start, end)
            if de > ds:
                out.append(Span(ds, de, style))
        out.extend(Span(s, e, style) for s, e, style in self.markers)
        return Content(self.display, spans=out)


def _escape_detail(text: str, i: int) -> tuple[str, int]:
    """Name the escape sequence starting at text[i] (ESC) and return its length, so the warning
    says "OSC 52 clipboard write" rather than just "ESC"."""
    nxt = text[i + 1 : i + 2]
    if nxt == "[":
        m = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]").match(text, i)
        return "CSI control sequence (colours, cursor moves, erasing)", len(m.group(0)) if m else 2
    if nxt == "]":
        m = re.compile(r"\x1b\](\d*)").match(text, i)
        num = m.group(1) if m else ""
        what = {
            "52": "OSC 52 clipboard write",
            "0": "OSC window title change",
            "1": "OSC icon title change",
            "2": "OSC window title change",
            "8": "OSC hyperlink",
            "7": "OSC working-directory report",
        }.get(num, f"OSC {num} operating-system command".replace("  ", " "))
        return what, 2
    if nxt == "P":
        return "DCS device control string", 2
    if nxt in ("_", "^", "X"):
        return "APC/PM/SOS string", 2
    return "escape sequence", 1


def _marker_for(ch: str, *, keep_newlines: bool) -> tuple[str, str, str] | None:
    """(marker text, hazard kind, style) for a character that must not be shown raw."""
    code = ord(ch)
    if ch == "\n":
        return None if keep_newlines else ("⏎", "", SOFT_MARKER_STYLE)
    if ch == "\t":
        return ("⇥", "", SOFT_MARKER_STYLE)
    if ch == "\r":
        return ("␍", "carriage-return", MARKER_STYLE)
    if ch == "\x1b":
        return ("␛", "escape", MARKER_STYLE)
    if code < 0x20:
        return (chr(0x2400 + code), "control", MARKER_STYLE)
    if code == 0x7F:
        return ("␡", "control", MARKER_STYLE)
    if 0x80 <= code <= 0x9F:
        return (f"⟨U+{code:04X}⟩", "control", MARKER_STYLE)
    if ch in _BIDI:
        return (f"⟨{_BIDI[ch]}⟩", "bidi", MARKER_STYLE)
    if ch in _INVISIBLE:
        return (f"⟨{_INVISIBLE[ch]}⟩", "invisible", MARKER_STYLE)
    if ch in _SPACES:
        return (f"⟨{_SPACES[ch]}⟩", "space", MARKER_STYLE)
    if 0xE0000 <= code <= 0xE007F:
        shown = chr(code - 0xE0000) if 0x20 < code - 0xE0000 < 0x7F else f"{code:X}"
        return (f"⟨TAG {shown}⟩", "tag", MARKER_STYLE)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return (f"⟨VS U+{code:04X}⟩", "invisible", MARKER_STYLE)
    category = unicodedata.category(ch)
    if category == "Zs":
        return (f"⟨U+{code:04X}⟩", "space", MARKER_STYLE)
    if category in ("Cf", "Cc"):
        return (f"⟨U+{code:04X}⟩", "invisible", MARKER_STYLE)
    if category in ("Co", "Cn", "Cs"):
        return (f"⟨U+{code:04X}⟩", "unassigned", MARKER_STYLE)
    if category in ("Zl", "Zp"):
        return (f"⟨U+{code:04X}⟩", "invisible", MARKER_STYLE)
    return None


def make_safe(text: str, *, keep_newlines: bool = True, flag_lookalikes: bool = False) -> SafeText:
    """Turn untrusted text into something a terminal shows but never acts on.

    `keep_newlines=False` shows newlines as `⏎` (for one-line summaries). `flag_lookalikes`
    underlines non-ASCII letters (for commands, where `с` may stand in for `c`).
    """
    n = len(text)
    if _PLAIN.fullmatch(text) is not None and (keep_newlines or "\n" not in text):
        return SafeText(text, text, tuple(range(n + 1)), (), ())
    parts: list[str] = []
    offsets: list[int] = []
    markers: list[tuple[int, int, str]] = []
    hazards: list[Hazard] = []
    pos = 0
    escape_until = -1
    for i, ch in enumerate(text):
        offsets.append(pos)
        code = ord(ch)
        if 0x20 <= code < 0x7F or (ch == "\n" and keep_newlines):
            parts.append(ch)
            pos += 1
            if i < escape_until:
                # Inside an escape sequence: every byte of it is shown in the marker style, so the
                # reviewer sees where the sequence ends.
                markers.append((pos - 1, pos, MARKER_STYLE))
            continue
        found = _marker_for(ch, keep_newlines=keep_newlines)
        if found is None:
            parts.append(ch)
            pos += 1
            if flag_lookalikes and code > 0x7F and unicodedata.category(ch).startswith("L"):
                markers.append((pos - 1, pos, LOOKALIKE_STYLE))
                hazards.append(Hazard("lookalike", i, ch, unicodedata.name(ch, f"U+{code:04X}")))
            continue
        marker, kind, style = found
        parts.append(marker)
        markers.append((pos, pos + len(marker), style))
        pos += len(marker)
        if kind == "escape":
            detail, length = _escape_detail(text, i)
            escape_until = i + length
            hazards.append(Hazard(kind, i, marker, detail))
        elif kind:
            hazards.append(Hazard(kind, i, marker, unicodedata.name(ch, f"U+{code:04X}")))
    offsets.append(pos)
    return SafeText(text, "".join(parts), tuple(offsets), tuple(markers), tuple(hazards))


def describe_hazards(hazards: Sequence[Hazard]) -> tuple[str, ...]:
    """One sentence per kind of hazard, worst first, naming what was found."""
    by_kind: dict[str, list[Hazard]] = {}
    for h in hazards:
        by_kind.setdefault(h.kind, []).append(h)
    lines: list[str] = []
    for kind in _KIND_WORDS:
        found = by_kind.get(kind)
        if not found:
            continue
        words = _KIND_WORDS[kind]
        count = len(found)
        plural = words if count == 1 else words + "s"
        details: list[str] = []
        for h in found:
            label = h.detail or h.marker
            if label not in details:
                details.append(label)
        shown = ", ".join(details[:4]) + (", …" if len(details) > 4 else "")
        lines.append(f"{count} {plural} ({shown}) shown as markers: {_KIND_WHY[kind]}")
    return tuple(lines)


def one_line(text: str, limit: int) -> tuple[SafeText, bool]:
    """A safe single-line summary of at most `limit` source characters; True if it was cut."""
    cut = len(text) > limit
    return make_safe(text[:limit] if cut else text, keep_newlines=False), cut


def safe_content(text: str, style: str = "") -> Content:
    """Untrusted text as Content, markers included, with an optional base style."""
    safe = make_safe(text)
    content = safe.content()
    return content.stylize_before(style) if style else content


def safe_line(text: str, style: str = "") -> Content:
    """Untrusted text (an id, a path, a name) on one line, markers included."""
    content = make_safe(text, keep_newlines=False).content()
    return content.stylize_before(style) if style else content


class _Notifier(Protocol):
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Literal["information", "warning", "error"] = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


def notify_safely(
    node: _Notifier,
    message: str,
    *,
    title: str = "",
    severity: Literal["information", "warning", "error"] = "information",
    timeout: float | None = None,
) -> None:
    """A toast whose text may hold untrusted words (paths, ids, error messages): markers for
    control characters, and no markup, so `[link=…]` in a file name stays text."""
    node.notify(
        make_safe(message).display,
        title=make_safe(title, keep_newlines=False).display,
        severity=severity,
        timeout=timeout,
        markup=False,
    )


def spaced(text: str, style: str) -> Content:
    """`Content.styled(text, style)` with its leading spaces left unstyled. SVG viewers drop the
    leading spaces of a styled run, so in screenshots the run would touch what precedes it."""
    body = text.lstrip(" ")
    return Content(" " * (len(text) - len(body))) + Content.styled(body, style)


def turn_label(turn_id: str) -> str:
    """How a turn is named on screen: `turn t1`, but a turn id that already says so
    (`turn-12e6…`, the demo's and lockgate run's) as it is, not `turn turn-12e6…`."""
    return turn_id if turn_id.startswith("turn") else f"turn {turn_id}"
