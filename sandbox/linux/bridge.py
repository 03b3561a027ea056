"""Proxy-mode bridge: 127.0.0.1:PORT inside the command's network namespace, relayed to the
console's proxy on a unix socket outside.

It runs in the supervisor, which is in the new network namespace (so it can listen on the
namespace's loopback) but outside the pid namespace (so the command can neither see nor signal
it). The mount namespace hides /tmp and /run, where the proxy socket usually lives, so the
supervisor enters the socket's directory through a descriptor of the host's root taken before
the namespace changed, and dials the socket by its relative name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import socket
import struct
from dataclasses import dataclass

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
BUFFER_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Target:
    name: str  # relative to the supervisor's cwd

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.connect(self.name)
        except OSError:
            s.close()
            raise
        s.setblocking(False)
        return s

    def close(self) -> None:
        """Nothing held open: the cwd is the only reference, and init changes it."""


def open_target(path: str | None, host_root: int) -> Target:
    """`host_root` is a descriptor of / opened before the mount namespace changed: the socket's
    directory is entered through it, as the host sees it."""
    if not path:
        raise ValueError("proxy network mode needs a proxy socket")
    directory, name = os.path.split(os.path.abspath(path))
    if len(name.encode()) > 100:
        raise ValueError(f"proxy socket name too long: {name}")
    os.fchdir(host_root)
    os.chdir(directory.lstrip("/") or ".")
    if not os.path.exists(name):
        raise ValueError(f"proxy socket {path} does not exist")
    return Target(name)


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def listen(port: int) -> socket.socket:
    loopback_up()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    s.setblocking(False)
    return s


class _Pair:
    """One bridged connection: bytes copied both ways, with bounded buffers and half-close."""

    def __init__(self, relay: Relay, inside: socket.socket, outside: socket.socket) -> None:
        self.relay = relay
        self.ends = (inside, outside)
        self.buf = [bytearray(), bytearray()]  # buf[i]: waiting to be written to ends[i]
        self.eof = [False, False]  # ends[i] has sent EOF
        self.shut = [False, False]  # write side of ends[i] shut down
        self.closed = False
        self.registered = [False, False]
        self.update()

    def peer(self, i: int) -> int:
        return 1 - i

    def handle(self, sock: socket.socket, mask: int) -> None:
        i = 0 if sock is self.ends[0] else 1
        j = self.peer(i)
        try:
            if mask & selectors.EVENT_READ and not self.eof[i]:
                data = sock.recv(65536)
                if data:
                    self.buf[j] += data
                else:
                    self.eof[i] = True
            if mask & selectors.EVENT_WRITE and self.buf[i]:
                sent = sock.send(self.buf[i])
                del self.buf[i][:sent]
        except BlockingIOError:
            pass
        except OSError:
            self.close()
            return
        self.update()

    def update(self) -> None:
        if self.closed:
            return
        for i in (0, 1):
            j = self.peer(i)
            if self.eof[j] and not self.buf[i] and not self.shut[i]:
                with contextlib.suppress(OSError):
                    self.ends[i].shutdown(socket.SHUT_WR)
                self.shut[i] = True
        if all(self.eof) and not any(self.buf):
            self.close()
            return
        for i in (0, 1):
            events = 0
            if not self.eof[i] and len(self.buf[self.peer(i)]) < BUFFER_LIMIT:
                events |= selectors.EVENT_READ
            if self.buf[i]:
                events |= selectors.EVENT_WRITE
            if events and self.registered[i]:
                self.relay.sel.modify(self.ends[i], events, self)
            elif events:
                self.relay.sel.register(self.ends[i], events, self)
                self.registered[i] = True
            elif self.registered[i]:
                self.relay.sel.unregister(self.ends[i])
                self.registered[i] = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for i, end in enumerate(self.ends):
            if self.registered[i]:
                self.relay.sel.unregister(end)
                self.registered[i] = False
            end.close()
        self.relay.pairs.discard(self)


class Relay:
    def __init__(
        self, sel: selectors.BaseSelector, listener: socket.socket, target: Target
    ) -> None:
        self.sel = sel
        self.listener = listener
        self.target = target
        self.pairs: set[_Pair] = set()
        sel.register(listener, selectors.EVENT_READ, self)

    def handle(self, key: selectors.SelectorKey, mask: int) -> None:
        if key.data is self:
            self._accept()
        elif isinstance(key.data, _Pair):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            key.data.handle(sock, mask)

    def _accept(self) -> None:
        while True:
            try:
                inside, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            inside.setblocking(False)
            try:
                outside = self.target.connect()
            except OSError:
                inside.close()
                continue
            self.pairs.add(_Pair(self, inside, outside))

    def close(self) -> None:
        for pair in list(self.pairs):
            pair.close()
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(self.listener)
        self.listener.close()
