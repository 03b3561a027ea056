"""Bounded capture of a command's output: the first and the last bytes, and the true total.

The pipe is always drained (a flood never blocks the command or grows the console's memory);
what is kept is at most `limit` bytes: half from the start, half from the end.
"""

from __future__ import annotations


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
