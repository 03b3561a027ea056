"""The first bytes of a CONNECT tunnel: a TLS ClientHello, and the server name inside it.

lockgate does not intercept TLS, but it does read the ClientHello a client sends in the clear:
a tunnel opened to an allowed host must carry TLS (so a plain-HTTP request cannot slip past the
method and read-only rules through CONNECT), and the server name the client asks for (SNI) must
be the host the tunnel was opened to (so an allowed host's CDN cannot be asked for another site).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

MAX_HELLO = 64 * 1024


class TlsError(Exception):
    """The tunnel did not start with a well-formed TLS ClientHello."""


@dataclass(frozen=True)
class ClientHello:
    raw: bytes  # every byte read, to be forwarded unchanged
    server_name: str | None


async def read_client_hello(reader: asyncio.StreamReader) -> ClientHello:
    raw = bytearray()
    handshake = bytearray()
    need: int | None = None
    while need is None or len(handshake) < need:
        header = await reader.readexactly(5)
        raw += header
        if header[0] != 0x16 or header[1] != 0x03:
            raise TlsError("the tunnel did not start with a TLS handshake")
        length = int.from_bytes(header[3:5], "big")
        if length == 0 or length > 16384 + 2048:
            raise TlsError("bad TLS record length")
        body = await reader.readexactly(length)
        raw += body
        handshake += body
        if need is None and len(handshake) >= 4:
            if handshake[0] != 0x01:
                raise TlsError("the first handshake message is not a ClientHello")
            need = 4 + int.from_bytes(handshake[1:4], "big")
            if need > MAX_HELLO:
                raise TlsError("ClientHello too large")
        if len(raw) > MAX_HELLO + 4096:
            raise TlsError("ClientHello too large")
    assert need is not None
    return ClientHello(bytes(raw), _server_name(bytes(handshake[4:need])))


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise TlsError("truncated ClientHello")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def num(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vector(self, len_bytes: int) -> bytes:
        return self.take(self.num(len_bytes))

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def _server_name(hello: bytes) -> str | None:
    c = _Cursor(hello)
    c.take(2 + 32)  # legacy version, random
    c.vector(1)  # session id
    c.vector(2)  # cipher suites
    c.vector(1)  # compression methods
    if c.done:
        return None
    ext = _Cursor(c.vector(2))
    names: list[str] = []
    seen: set[int] = set()
    while not ext.done:
        etype = ext.num(2)
        data = ext.vector(2)
        if etype in seen:
            raise TlsError("repeated ClientHello extension")
        seen.add(etype)
        if etype != 0:
            continue
        lst = _Cursor(_Cursor(data).vector(2))
        while not lst.done:
            kind = lst.num(1)
            name = lst.vector(2)
            if kind == 0:
                try:
                    names.append(name.decode("ascii"))
                except UnicodeDecodeError:
                    raise TlsError("server name is not ASCII") from None
    if len(names) > 1:
        raise TlsError("more than one server name in ClientHello")
    return names[0] if names else None
