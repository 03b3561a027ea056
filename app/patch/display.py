"""Make diff text safe to print on a reviewer's terminal.

A patch is attacker-controlled text: escape sequences could repaint the screen, a carriage return
could hide a line behind another, bidi controls can make code read differently from how it runs
("Trojan Source"). Everything but tab and newline that could do that is shown as a visible escape.
"""

from __future__ import annotations

_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _escape(ch: str) -> str:
    o = ord(ch)
    if o <= 0xFF:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}"


def terminal_safe(text: str) -> str:
    out: list[str] = []
    for ch in text:
        o = ord(ch)
        if ch in "\n\t":
            out.append(ch)
        elif o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or ch in _BIDI or ch in "\u2028\u2029":
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)
