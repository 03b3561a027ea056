"""Bounded capture of a command's output: the first and the last bytes, and the true total.

The pipe is always drained (a flood never blocks the command or grows the console's memory);
what is kept is at most `limit` bytes: half from the start, half from the end.
"""

from __future__ import annotations

import os
import selectors
from collections.abc import Callable


class HeadTail:
    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.head_cap = self.limit // 2
        self.tail_cap = self.limit - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk or self.tail_cap == 0:
            return
        if len(chunk) >= self.tail_cap:
            self.tail = bytearray(chunk[-self.tail_cap :])
            return
        self.tail += chunk
        if len(self.tail) > 2 * self.tail_cap:  # trim rarely: amortised O(1) per byte
            del self.tail[: len(self.tail) - self.tail_cap]

    def value(self) -> bytes:
        tail = self.tail[-self.tail_cap :] if self.tail_cap else b""
        if self.total <= self.limit:
            return bytes(self.head + tail)
        return bytes(self.head) + bytes(tail)


def drain_ready(
    sel: selectors.BaseSelector,
    fd: int,
    captures: dict[int, tuple[str, HeadTail]],
    open_pipes: set[int],
    on_output: Callable[[str, bytes], None] | None,
) -> None:
    """Read what a ready output pipe holds into its capture (and the live sink); at end of file
    the pipe leaves the selector and `open_pipes`. Both backends drain their pipes this way."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return
    if not chunk:
        sel.unregister(fd)
        open_pipes.discard(fd)
        return
    name, cap = captures[fd]
    cap.add(chunk)
    if on_output is not None:
        on_output(name, chunk)


# --------------------------------------------------------------------------- terminal safety

# What a terminal would act on or hide, shown as a visible marker instead (the console does the
# same with app/ui/safe.py; the sandbox may not import app/, so this is its stdlib twin for
# `lockgate sandbox run` and for the guard's notes).
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad\u2028\u2029"


def _marker(ch: str) -> str | None:
    code = ord(ch)
    if ch == "\x1b":
        return "␛"
    if ch == "\r":
        return "␍"
    if code < 0x20 and ch not in "\n\t":
        return chr(0x2400 + code)
    if code == 0x7F:
        return "␡"
    if 0x80 <= code <= 0x9F or ch in _BIDI or ch in _INVISIBLE or 0xE0000 <= code <= 0xE007F:
        return f"⟨U+{code:04X}⟩"
    return None


def escape_text(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with escape sequences, control characters (newlines too unless kept), bidi
    controls and invisible characters replaced by visible markers: a name can never make a
    printed line read as something else."""
    if text.isascii() and text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
            continue
        if ch == "\n":
            out.append("⏎")
            continue
        m = _marker(ch)
        out.append(ch if m is None else m)
    return "".join(out)


class TerminalEscaper:
    """Turns a byte stream into text safe for a terminal, chunk by chunk: UTF-8 sequences split
    across chunks are kept whole, bytes that are not UTF-8 show as \\xNN."""

    def __init__(self) -> None:
        import codecs

        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")

    def feed(self, chunk: bytes, *, final: bool = False) -> bytes:
        text = self._decoder.decode(chunk, final)
        return escape_text(text, keep_newlines=True).encode("utf-8")
