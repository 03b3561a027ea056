"""Moving bytes between two connections at transport speed, once the gate has said yes.

Stream readers cost a copy and a task wake-up per chunk; a tunnel carrying a package download
does not need them. Here each transport's protocol is swapped for one that writes what it
receives straight into the other transport, and pauses reading when the other side's send
buffer is full (asyncio's own flow control), so memory stays bounded by the transports'
high-water marks.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import threading
from typing import Any, Literal, cast

Mode = Literal["eof", "length", "off"]


def take_buffered(reader: asyncio.StreamReader) -> tuple[bytes, bool]:
    """Bytes a StreamReader holds but nobody has read yet, and whether it has seen EOF.

    The reader keeps them in `_buffer` (a CPython implementation detail since 3.4, with no
    public accessor); without them bytes already received would be lost in the hand-over."""
    buf: bytearray = getattr(reader, "_buffer")  # noqa: B009
    data = bytes(buf)
    buf.clear()
    return data, reader.at_eof() or bool(getattr(reader, "_eof", False))


BUFFER_SIZE = 1 << 20
_local = threading.local()


def _thread_buffer() -> memoryview:
    """One receive buffer per thread, shared by every splice on that thread's loop: a read and
    the write that passes it on happen in one callback, so no two reads ever overlap."""
    buf: memoryview | None = getattr(_local, "buffer", None)
    if buf is None:
        buf = _local.buffer = memoryview(bytearray(BUFFER_SIZE))
    return buf


class _Side(asyncio.BufferedProtocol):
    """Receives straight into a reusable buffer (no bytes object per read); the other
    transport's write either sends at once or copies what it could not send, so the buffer
    is free again as soon as `write` returns."""

    def __init__(self, splice: Splice, index: int, original: asyncio.BaseProtocol) -> None:
        self.splice = splice
        self.index = index
        self.original = original

    def get_buffer(self, sizehint: int) -> memoryview:
        return _thread_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.splice._data(self.index, _thread_buffer()[:nbytes])

    def eof_received(self) -> bool:
        self.splice._eof(self.index)
        # keep the other half open (TLS has no half-close: there the answer is ignored, and
        # asyncio warns about a True)
        return self.splice._transports[self.index].get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self.splice._lost(self.index)
        # The stream writer waits for its own protocol to hear about the close.
        self.original.connection_lost(exc)

    def pause_writing(self) -> None:
        self.splice._pause_from(self.index)

    def resume_writing(self) -> None:
        self.splice._resume_from(self.index)


class Splice:
    """Copy a→b and b→a. Per direction: `eof` (until the source closes its side, then pass
    the half-close on), `length` (exactly that many bytes, then that direction is done) or
    `off` (nothing is read from that source). `counts[0]` is a→b, `counts[1]` b→a."""

    def __init__(
        self,
        a: asyncio.StreamWriter,
        b: asyncio.StreamWriter,
        *,
        modes: tuple[Mode, Mode] = ("eof", "eof"),
        lengths: tuple[int, int] = (0, 0),
        grace_s: float = 30.0,
        leftovers: tuple[bytes, bytes] = (b"", b""),
        eofs: tuple[bool, bool] = (False, False),
        counts: list[int] | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = loop.create_future()
        self.counts = counts if counts is not None else [0, 0]
        self.error = ""
        self._transports: list[Any] = [a.transport, b.transport]
        self._modes = list(modes)
        self._left = list(lengths)
        self._finished = [m == "off" for m in modes]
        self._grace_s = grace_s
        self._grace: asyncio.TimerHandle | None = None
        self._loop = loop
        self._sides = [_Side(self, i, t.get_protocol()) for i, t in enumerate(self._transports)]
        for i, t in enumerate(self._transports):
            t.set_protocol(self._sides[i])
        for i, t in enumerate(self._transports):
            if self._modes[i] == "off":
                with contextlib.suppress(Exception):
                    t.pause_reading()
            else:
                with contextlib.suppress(Exception):
                    t.resume_reading()
        for i in (0, 1):
            if leftovers[i] and not self._finished[i]:
                self._data(i, leftovers[i])
            if eofs[i] and not self._finished[i]:
                self._eof(i)
        if self._modes[0] == "length" and self._left[0] == 0:
            self._direction_done(0, half_close=False)
        if self._modes[1] == "length" and self._left[1] == 0:
            self._direction_done(1, half_close=False)
        self._check()

    # ----------------------------------------------------------------------- events

    def _data(self, i: int, data: bytes | memoryview) -> None:
        if self._finished[i]:
            return
        if self._modes[i] == "length":
            if len(data) > self._left[i]:
                self.error = "peer sent more bytes than announced"
                data = data[: self._left[i]]
            self._left[i] -= len(data)
        self.counts[i] += len(data)
        dst = self._transports[1 - i]
        if not dst.is_closing():
            dst.write(data)
        if self._modes[i] == "length" and self._left[i] == 0:
            self._direction_done(i, half_close=False)
            self._check()

    def _eof(self, i: int) -> None:
        if self._finished[i]:
            return
        if self._modes[i] == "length" and self._left[i] > 0:
            self.error = f"connection closed {self._left[i]} bytes early"
            self._finished = [True, True]
            self._check()
            return
        self._direction_done(i, half_close=True)
        self._check()

    def _lost(self, i: int) -> None:
        if not all(self._finished):
            if not self._finished[i] and self._modes[i] == "length" and self._left[i] > 0:
                self.error = self.error or "connection lost mid-body"
            self._finished = [True, True]
        self._check()

    def _pause_from(self, writer_index: int) -> None:
        # transport `writer_index` is full: stop reading what feeds it
        with contextlib.suppress(Exception):
            self._transports[1 - writer_index].pause_reading()

    def _resume_from(self, writer_index: int) -> None:
        if not self._finished[1 - writer_index]:
            with contextlib.suppress(Exception):
                self._transports[1 - writer_index].resume_reading()

    # ----------------------------------------------------------------------- bookkeeping

    def _direction_done(self, i: int, *, half_close: bool) -> None:
        self._finished[i] = True
        with contextlib.suppress(Exception):
            self._transports[i].pause_reading()
        dst = self._transports[1 - i]
        if half_close and not dst.is_closing() and dst.can_write_eof():
            with contextlib.suppress(Exception):
                dst.write_eof()
        # Server (b) finished while the client (a) still talks: give the client a moment.
        if i == 1 and not self._finished[0] and self._modes[0] == "eof":
            self._grace = self._loop.call_later(self._grace_s, self._expire)

    def _expire(self) -> None:
        self._finished = [True, True]
        self._check()

    def _check(self) -> None:
        if all(self._finished) and not self.done.done():
            if self._grace is not None:
                self._grace.cancel()
            self.done.set_result(None)

    async def wait(self) -> None:
        """Until both directions are done. The transports keep the splice's protocols
        afterwards (handing them back would confuse the streams' flow-control state); each
        side passes `connection_lost` on, so closing through the stream writers still works."""
        try:
            await asyncio.shield(self.done)
        finally:
            if self._grace is not None:
                self._grace.cancel()
            self._finished = [True, True]


# --------------------------------------------------------------------------- kernel splice

F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
HAVE_KERNEL_SPLICE = hasattr(os, "splice")


class _Direction:
    """src → pipe → dst with splice(2): the bytes never enter Python."""

    def __init__(self, owner: KernelSplice, i: int, src: socket.socket, dst: socket.socket,
                 mode: Mode, length: int) -> None:  # fmt: skip
        self.owner = owner
        self.i = i
        self.src = src
        self.dst = dst
        self.mode = mode
        self.left = length
        self.pending = 0
        self.src_eof = False
        self.done = mode == "off" or (mode == "length" and length == 0)
        self.reading = False
        self.writing = False
        self.pr, self.pw = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.pw, F_SETPIPE_SZ, PIPE_SIZE)
        self.capacity = fcntl.fcntl(self.pw, F_GETPIPE_SZ)

    def start(self) -> None:
        if not self.done:
            self._want_read(True)

    def _want_read(self, on: bool) -> None:
        if on and not self.reading:
            self.owner._loop.add_reader(self.src.fileno(), self._readable)
        elif not on and self.reading:
            self.owner._loop.remove_reader(self.src.fileno())
        self.reading = on

    def _want_write(self, on: bool) -> None:
        if on and not self.writing:
            self.owner._loop.add_writer(self.dst.fileno(), self._writable)
        elif not on and self.writing:
            self.owner._loop.remove_writer(self.dst.fileno())
        self.writing = on

    def _readable(self) -> None:
        want = self.capacity - self.pending
        if self.mode == "length":
            want = min(want, self.left)
        if want <= 0:
            self._want_read(False)
            return
        try:
            n = os.splice(self.src.fileno(), self.pw, want, flags=_FLAGS)
        except BlockingIOError:
            return
        except OSError as exc:
            self.owner._fail(f"read failed: {exc.strerror}")
            return
        if n == 0:
            self.src_eof = True
            self._want_read(False)
            if self.mode == "length" and self.left > 0:
                self.owner._fail(f"connection closed {self.left} bytes early")
                return
        else:
            self.pending += n
            if self.mode == "length":
                self.left -= n
        self._flush()

    def _writable(self) -> None:
        self._want_write(False)
        self._flush()

    def _flush(self) -> None:
        while self.pending:
            try:
                n = os.splice(self.pr, self.dst.fileno(), self.pending, flags=_FLAGS)
            except BlockingIOError:
                self._want_read(False)  # the other side is full: stop taking more
                self._want_write(True)
                return
            except OSError as exc:
                self.owner._fail(f"write failed: {exc.strerror}")
                return
            self.pending -= n
            self.owner.counts[self.i] += n
        if self.src_eof or (self.mode == "length" and self.left == 0):
            self.finish(half_close=self.src_eof)
        elif not self.done:
            self._want_read(True)

    def finish(self, *, half_close: bool) -> None:
        if self.done:
            return
        self.done = True
        self._want_read(False)
        self._want_write(False)
        if half_close:
            with contextlib.suppress(OSError):
                self.dst.shutdown(socket.SHUT_WR)
        self.owner._direction_done(self.i)

    def close(self) -> None:
        self._want_read(False)
        self._want_write(False)
        for fd in (self.pr, self.pw):
            with contextlib.suppress(OSError):
                os.close(fd)


F_GETPIPE_SZ = 1032
_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)


class KernelSplice:
    """The same contract as `Splice`, with the bytes moved by the kernel (Linux splice(2)).

    The stream transports stay in place but idle (reading paused, send buffers drained to
    zero); the copy works on duplicates of their descriptors, so asyncio's own registrations
    are never disturbed, and closing the stream writers afterwards closes the connections."""

    def __init__(
        self,
        a: asyncio.StreamWriter,
        b: asyncio.StreamWriter,
        *,
        modes: tuple[Mode, Mode] = ("eof", "eof"),
        lengths: tuple[int, int] = (0, 0),
        grace_s: float = 30.0,
        counts: list[int] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self._loop.create_future()
        self.counts = counts if counts is not None else [0, 0]
        self.error = ""
        self._writers = (a, b)
        self._modes = modes
        self._lengths = lengths
        self._grace_s = grace_s
        self._grace: asyncio.TimerHandle | None = None
        self._socks: list[socket.socket] = []
        self._dirs: list[_Direction] = []

    async def run(self, leftovers: tuple[bytes, bytes], eofs: tuple[bool, bool]) -> None:
        """Hand over and copy until done. `leftovers[i]`: bytes side i sent that a stream
        reader already holds (passed on first); `eofs[i]`: side i already closed its half."""
        a, b = self._writers
        modes = list(self._modes)
        lengths = list(self._lengths)
        for i, w in enumerate((a, b)):
            cast(asyncio.Transport, w.transport).pause_reading()
            if leftovers[i] and modes[i] != "off":
                data = leftovers[i]
                if modes[i] == "length":
                    data = data[: lengths[i]]
                    lengths[i] -= len(data)
                self._writers[1 - i].write(data)
                self.counts[i] += len(data)
        try:
            for w in (a, b):
                w.transport.set_write_buffer_limits(0, 0)
            for w in (a, b):
                await w.drain()
        except (ConnectionError, OSError) as exc:
            self.error = f"connection ended before the copy began: {type(exc).__name__}"
            return
        try:
            for w in (a, b):
                raw = w.transport.get_extra_info("socket")
                if raw is None or w.transport.is_closing():
                    self.error = "connection ended before the copy began"
                    return
                self._socks.append(socket.socket(fileno=os.dup(raw.fileno())))
            sa, sb = self._socks
            self._dirs = [
                _Direction(self, 0, sa, sb, modes[0], lengths[0]),
                _Direction(self, 1, sb, sa, modes[1], lengths[1]),
            ]
            for i, d in enumerate(self._dirs):
                if eofs[i] and not d.done:
                    if d.mode == "length" and d.left > 0:
                        self._fail(f"connection closed {d.left} bytes early")
                    else:
                        d.finish(half_close=True)
            for d in self._dirs:
                d.start()
            self._check()
            await asyncio.shield(self.done)
        finally:
            if self._grace is not None:
                self._grace.cancel()
            for d in self._dirs:
                d.close()
            for s in self._socks:
                s.close()

    def _direction_done(self, i: int) -> None:
        # The server (b) is done while the client (a) still talks: give the client a moment.
        if i == 1 and self._dirs and not self._dirs[0].done and self._dirs[0].mode == "eof":
            self._grace = self._loop.call_later(self._grace_s, self._expire)
        self._check()

    def _expire(self) -> None:
        for d in self._dirs:
            d.done = True
        self._check()

    def _fail(self, message: str) -> None:
        self.error = self.error or message
        for d in self._dirs:
            d.done = True
            d._want_read(False)
            d._want_write(False)
        self._check()

    def _check(self) -> None:
        if self._dirs and all(d.done for d in self._dirs) and not self.done.done():
            self.done.set_result(None)


async def splice_streams(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    counts: list[int],
    *,
    modes: tuple[Mode, Mode] = ("eof", "eof"),
    lengths: tuple[int, int] = (0, 0),
    grace_s: float = 30.0,
    kernel: bool = True,
) -> str:
    """Copy between two stream pairs by the fastest means here; `counts` ([a→b, b→a]) grows
    as bytes move, so a cancelled copy still tells how much went through. Returns an error
    text ("" when the copy ended cleanly)."""
    a_left, a_eof = take_buffered(a[0])
    b_left, b_eof = take_buffered(b[0])
    if HAVE_KERNEL_SPLICE and kernel:
        ks = KernelSplice(a[1], b[1], modes=modes, lengths=lengths, grace_s=grace_s, counts=counts)
        await ks.run((a_left, b_left), (a_eof, b_eof))
        return ks.error
    sp = Splice(
        a[1], b[1], modes=modes, lengths=lengths, grace_s=grace_s,
        leftovers=(a_left, b_left), eofs=(a_eof, b_eof), counts=counts,
    )  # fmt: skip
    await sp.wait()
    return sp.error
