"""The one error the patch engine raises for anything a patch (or its author) got wrong."""

from __future__ import annotations


class PatchError(Exception):
    """A patch that cannot be parsed, resolved or applied.

    The message is always one line, fit to show a reviewer or send back to the model; newlines and
    control characters in quoted material are escaped so a hostile patch cannot forge extra lines.
    """

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        return str(self.args[0])


def one_line(text: str, limit: int = 400) -> str:
    """Squash text to one printable line (escape controls, cap the length)."""
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0x80 <= ord(ch) < 0xA0:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    s = "".join(out)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def quote(text: str, limit: int = 80) -> str:
    """A short quoted excerpt of patch material for an error message."""
    return "'" + one_line(text, limit) + "'"
