"""The agent's stdout as JSON-RPC messages, for the SDK's `Connection` (its message-level
`Transport` seam), with limits the SDK's own stdio framing does not have.

The SDK buffers a line however long it is and logs a traceback for a malformed one. An agent is
untrusted: a 100 MB line must not be held in memory and a malformed message must not print into
the reviewer's terminal. Here a line longer than `max_line` is skipped while it streams by, and
each problem is reported once, in one line, through `on_problem`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

MAX_LINE = 32 << 20
"""A message larger than this is dropped (ACP messages are text; a whole file read is the
largest thing a well-behaved agent sends, and lockgate caps reads below this)."""
READ_CHUNK = 1 << 16


class NdjsonTransport:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_problem: Callable[[str], None],
        max_line: int = MAX_LINE,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_problem = on_problem
        self._max_line = max_line
        self._buf = bytearray()
        self._send_lock = asyncio.Lock()
        self._closed = False

    async def send(self, message: dict[str, Any]) -> None:
        if self._closed:
            raise ConnectionError("the agent's stdin is closed")
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        async with self._send_lock:
            self._writer.write(data)
            await self._writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        while True:
            line = await self._line()
            if line is None:
                return None
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                self._on_problem(f"the agent sent malformed JSON-RPC ({len(line)} bytes); ignored")
                continue
            if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
                self._on_problem("the agent sent a message that is not JSON-RPC 2.0; ignored")
                continue
            return message

    async def _line(self) -> bytes | None:
        """The next whole line, or None at EOF. An over-long line is read through and dropped."""
        skipping = 0
        scan = 0  # only the newly read part is searched: a long line costs O(length)
        while True:
            nl = self._buf.find(b"\n", scan)
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                if skipping:
                    self._report_long(skipping + len(line))
                    skipping = 0
                    scan = 0
                    continue
                return line
            scan = len(self._buf)
            if len(self._buf) > self._max_line:
                skipping += len(self._buf)
                self._buf.clear()
                scan = 0
            chunk = await self._reader.read(READ_CHUNK)
            if not chunk:
                if skipping:
                    self._report_long(skipping + len(self._buf))
                    self._buf.clear()
                    return None
                if self._buf:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line
                return None
            self._buf += chunk

    def _report_long(self, size: int) -> None:
        self._on_problem(
            f"the agent sent a {size / 1e6:.0f} MB line (over {self._max_line >> 20} MB); dropped"
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer.can_write_eof():
                self._writer.write_eof()
        except (OSError, RuntimeError):
            pass
        self._writer.close()
