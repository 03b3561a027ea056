"""Characters that make the reviewed text look different from what runs: invisible and control
characters, bidirectional overrides, no-break spaces, and words mixing scripts (a Cyrillic `а`
inside `pаypal.com` or `requеsts`)."""

from __future__ import annotations

import re
import unicodedata

from app.core.model import Category, Finding, Span

_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_INVISIBLE = set(
    "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad\u034f"
    "\u115f\u1160\u3164\uffa0\u17b4\u17b5"
)
_SPACES = set(
    "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000\u1680"
)
_WORD = re.compile(r"[^\s'\"`;|&<>()$=,:/\\]+")


_NO_LOOKALIKES = frozenset(
    {
        "CJK",
        "HIRAGANA",
        "KATAKANA",
        "KATAKANA-HIRAGANA",
        "HALFWIDTH",
        "HANGUL",
        "BOPOMOFO",
        "ARABIC",
        "HEBREW",
        "THAI",
        "LAO",
        "DEVANAGARI",
        "BENGALI",
        "GURMUKHI",
        "GUJARATI",
        "TAMIL",
        "TELUGU",
        "KANNADA",
        "MALAYALAM",
        "SINHALA",
        "TIBETAN",
        "MYANMAR",
        "KHMER",
        "ETHIOPIC",
        "GEORGIAN",
        "YI",
    }
)


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "UNKNOWN"
    return name.split(" ", 1)[0]


def _name(ch: str) -> str:
    try:
        return f"U+{ord(ch):04X} {unicodedata.name(ch)}"
    except ValueError:
        return f"U+{ord(ch):04X}"


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def scan(
    text: str, *, base: int = 0, tabs_ok: bool = True, newlines_ok: bool = True
) -> list[Finding]:
    """Findings for deceptive characters in `text` (spans offset by `base`)."""
    if text.isascii() and _ASCII_CONTROL.search(text) is None:
        return []
    out: list[Finding] = []
    groups: dict[str, list[tuple[int, str]]] = {}
    for i, ch in enumerate(text):
        o = ord(ch)
        kind = None
        if ch in _BIDI:
            kind = "bidi"
        elif ch in _INVISIBLE:
            kind = "invisible"
        elif ch in _SPACES:
            kind = "space"
        elif ch == "\r":
            kind = "cr"
        elif ch == "\x1b":
            kind = "escape"
        elif (o < 32 and not ((ch == "\t" and tabs_ok) or (ch == "\n" and newlines_ok))) or (
            127 <= o < 160
        ):
            kind = "control"
        elif 0xD800 <= o <= 0xDFFF or unicodedata.category(ch) in ("Co", "Cn"):
            kind = "unassigned"
        elif o >= 128:
            cat = unicodedata.category(ch)
            if cat == "Cf":
                kind = "invisible"  # format characters the sets above do not name (tags, …)
            elif cat == "Zs":
                kind = "space"
            elif cat in ("Zl", "Zp"):
                kind = "linebreak"
        if kind:
            groups.setdefault(kind, []).append((i, ch))
    texts = {
        "bidi": (
            75,
            "contains bidirectional-override characters ({names}): the text shown is "
            "not the order bash reads",
        ),
        "invisible": (
            70,
            "contains invisible characters ({names}): what runs differs from what you see",
        ),
        "space": (
            50,
            "contains look-alike spaces ({names}): they are part of a word, not separators",
        ),
        "linebreak": (
            60,
            "contains Unicode line separators ({names}): a screen may break the line there, "
            "bash does not",
        ),
        "cr": (65, "contains a carriage return: a terminal would hide the text before it"),
        "escape": (
            75,
            "contains terminal escape sequences: they can rewrite what the screen shows",
        ),
        "control": (60, "contains control characters ({names})"),
        "unassigned": (55, "contains unassigned or private-use characters ({names})"),
    }
    for kind, hits in groups.items():
        score, template = texts[kind]
        names = ", ".join(dict.fromkeys(_name(ch) for _i, ch in hits[:4]))
        spans: tuple[Span, ...] = tuple((base + i, base + i + 1) for i, _ch in hits[:20])
        out.append(Finding(Category.OBFUSCATION, score, template.format(names=names), spans))
    if not text.isascii():
        for m in _WORD.finditer(text):
            word = m.group(0)
            if word.isascii():
                continue
            # Scripts with no letters that pass for Latin ones (CJK, kana, Hangul, Arabic, …)
            # are a name in another language, not a disguise.
            scripts = {s for s in (_script(ch) for ch in word) if s and s not in _NO_LOOKALIKES}
            if len(scripts) > 1 and "LATIN" in scripts:
                odd = [ch for ch in word if _script(ch) not in (None, "LATIN")]
                out.append(
                    Finding(
                        Category.OBFUSCATION,
                        75,
                        f"'{word}' mixes scripts ({', '.join(sorted(scripts))}): "
                        f"{_name(odd[0])} looks like a Latin letter",
                        ((base + m.start(), base + m.end()),),
                    )
                )
            elif (
                scripts
                and scripts != {"LATIN"}
                and any(
                    unicodedata.normalize("NFKD", ch).isascii() is False and _confusable(ch)
                    for ch in word
                )
                and re.search(r"[./@]", word)
            ):
                out.append(
                    Finding(
                        Category.OBFUSCATION,
                        55,
                        f"'{word}' is written in look-alike letters ({', '.join(sorted(scripts))})",
                        ((base + m.start(), base + m.end()),),
                    )
                )
    return out


_CONFUSABLE = set("аеорсуіјѕԁһӏԛԝхАВЕКМНОРСТХІЈЅԌԛαοινρτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")


def _confusable(ch: str) -> bool:
    return ch in _CONFUSABLE
