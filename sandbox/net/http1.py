"""The HTTP/1.x the proxy speaks: strict head parsing, hop-by-hop header filtering, body relays.

Strict on purpose: the proxy decides from what it parsed, and the upstream server acts on what
it receives, so any leniency where the two could read a request differently (duplicate Host or
Content-Length, folded headers, Content-Length beside Transfer-Encoding, bare LF, odd chunk
sizes) is a way past the rules. Such requests get a 400, never a best guess.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

HEAD_LIMIT = 64 * 1024
RELAY_CHUNK = 256 * 1024
MAX_HEADERS = 200

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_VERSION = re.compile(rb"HTTP/1\.[01]\Z")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n\x00]*)?\r\n\Z")
_DIGITS = re.compile(r"[0-9]{1,18}\Z")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "upgrade",
    }
)
# What a `Connection` header may never remove: the proxy framed the message (and checked the
# Host) by these, so the server must see them too, or it reads the bytes differently.
_FRAMING = frozenset({"content-length", "transfer-encoding", "host"})
# Headers that ask a server to act as if the request had another method.
METHOD_OVERRIDES = ("x-http-method-override", "x-http-method", "x-method-override")


class HttpError(Exception):
    """A request or response the proxy will not pass on; `status` is what the client gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Headers = tuple[tuple[str, str], ...]


def header_values(headers: Headers, name: str) -> list[str]:
    low = name.lower()
    return [v for k, v in headers if k.lower() == low]


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    version: str
    headers: Headers

    def values(self, name: str) -> list[str]:
        return header_values(self.headers, name)


@dataclass(frozen=True)
class ResponseHead:
    version: str
    status: int
    reason: str
    headers: Headers

    def values(self, name: str) -> list[str]:
        return header_values(self.headers, name)


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """Up to and including the blank line. IncompleteReadError if the peer closes first;
    HttpError(431) past HEAD_LIMIT (the reader's own limit must be at least that)."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None


def _parse_headers(lines: list[bytes]) -> Headers:
    if len(lines) > MAX_HEADERS:
        raise HttpError(431, "too many header lines")
    out: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            raise HttpError(400, "folded header lines are not accepted")
        name, sep, value = line.partition(b":")
        if not sep or _TOKEN.match(name) is None:
            raise HttpError(400, f"malformed header line {line[:40]!r}")
        value = value.strip(b" \t")
        if any(b < 0x20 and b != 0x09 for b in value) or b"\x7f" in value:
            raise HttpError(400, f"control character in header {name.decode('ascii')}")
        out.append((name.decode("ascii"), value.decode("latin-1")))
    return tuple(out)


def _split_lines(data: bytes) -> list[bytes]:
    if not data.endswith(b"\r\n\r\n"):
        raise HttpError(400, "incomplete head")
    body = data[:-4]
    lines = body.split(b"\r\n")
    for line in lines:
        if b"\r" in line or b"\n" in line or b"\x00" in line:
            raise HttpError(400, "bare CR, LF or NUL in head")
    return lines


def parse_request_head(data: bytes) -> RequestHead:
    lines = _split_lines(data)
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if _TOKEN.match(method) is None or _VERSION.match(version) is None:
        raise HttpError(400, "malformed request line")
    if not target or any(b <= 0x20 or b >= 0x7F for b in target):
        raise HttpError(400, "request target must be printable ASCII")
    return RequestHead(
        method.decode("ascii"),
        target.decode("ascii"),
        version.decode("ascii"),
        _parse_headers(lines[1:]),
    )


def parse_response_head(data: bytes) -> ResponseHead:
    lines = _split_lines(data)
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if _VERSION.match(version) is None or len(code) != 3 or not code.isdigit():
        raise HttpError(502, "upstream sent a malformed status line")
    return ResponseHead(
        version.decode("ascii"),
        int(code),
        reason.decode("latin-1"),
        _parse_headers(lines[1:]),
    )


Framing = tuple[Literal["none", "length", "chunked", "eof"], int]


def request_framing(head: RequestHead) -> Framing:
    """How the request body ends. Anything ambiguous is refused (request smuggling)."""
    te = head.values("transfer-encoding")
    cl = head.values("content-length")
    if te:
        if cl:
            raise HttpError(400, "both Transfer-Encoding and Content-Length")
        if len(te) != 1 or te[0].strip().lower() != "chunked":
            raise HttpError(400, "only 'Transfer-Encoding: chunked' is accepted")
        if head.version == "HTTP/1.0":
            raise HttpError(400, "chunked body in an HTTP/1.0 request")
        return ("chunked", 0)
    if cl:
        return ("length", _content_length(cl, 400))
    return ("none", 0)


def response_framing(head: ResponseHead, request_method: str) -> Framing:
    if request_method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
        return ("none", 0)
    te = head.values("transfer-encoding")
    cl = head.values("content-length")
    if te:
        codings = [c.strip().lower() for v in te for c in v.split(",")]
        if codings[-1] == "chunked":
            if codings.count("chunked") != 1:
                raise HttpError(502, "upstream sent a malformed Transfer-Encoding")
            return ("chunked", 0)
        return ("eof", 0)
    if cl:
        return ("length", _content_length(cl, 502))
    return ("eof", 0)


def _content_length(values: list[str], status: int) -> int:
    # ASCII digits only: str.isdigit() also accepts '¹' and other digits int() then rejects
    if len(values) != 1 or _DIGITS.match(values[0]) is None:
        raise HttpError(status, "malformed or repeated Content-Length")
    return int(values[0])


def forward_headers(headers: Headers) -> list[tuple[str, str]]:
    """Drop hop-by-hop headers, including those the Connection header lists, except the ones
    that frame the message or name its host (those the proxy acted on must reach the server)."""
    listed = {
        token.strip().lower()
        for v in header_values(headers, "connection")
        for token in v.split(",")
    } - _FRAMING
    return [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP and k.lower() not in listed]


def render_head(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [first_line, *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


# --------------------------------------------------------------------------- body relays


class ByteCount:
    """Bytes moved so far; kept outside the relay so a cancelled relay still reports them."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


async def relay_eof(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: ByteCount
) -> None:
    while True:
        data = await reader.read(RELAY_CHUNK)
        if not data:
            return
        writer.write(data)
        count.n += len(data)
        await writer.drain()


async def relay_length(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int, count: ByteCount
) -> None:
    left = length
    while left > 0:
        data = await reader.read(min(RELAY_CHUNK, left))
        if not data:
            raise asyncio.IncompleteReadError(b"", left)
        writer.write(data)
        count.n += len(data)
        left -= len(data)
        await writer.drain()


async def relay_chunked(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: ByteCount, status: int
) -> None:
    """Pass a chunked body through unchanged while parsing it, so its end is known exactly."""
    while True:
        line = await _read_line(reader, status)
        m = _CHUNK_SIZE.match(line)
        if m is None:
            raise HttpError(status, "malformed chunk size line")
        size = int(m.group(1), 16)
        writer.write(line)
        count.n += len(line)
        if size == 0:
            break
        await relay_length(reader, writer, size, count)
        crlf = await reader.readexactly(2)
        if crlf != b"\r\n":
            raise HttpError(status, "chunk not followed by CRLF")
        writer.write(crlf)
        count.n += 2
        await writer.drain()
    # trailers, then the blank line; a trailer line is held to the rules of a header line (a
    # bare CR or LF inside one is a line break to some servers: a request of its own)
    while True:
        line = await _read_line(reader, status)
        if line != b"\r\n" and not _good_trailer(line[:-2]):
            raise HttpError(status, f"malformed trailer line {line[:40]!r}")
        writer.write(line)
        count.n += len(line)
        if line == b"\r\n":
            break
    await writer.drain()


async def _read_line(reader: asyncio.StreamReader, status: int) -> bytes:
    try:
        return await reader.readuntil(b"\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError(status, "chunk size or trailer line too long") from None


def _good_trailer(line: bytes) -> bool:
    if line[:1] in (b" ", b"\t") or b"\r" in line or b"\n" in line or b"\x00" in line:
        return False
    name, sep, value = line.partition(b":")
    if not sep or _TOKEN.match(name) is None:
        return False
    return not any(b < 0x20 and b != 0x09 for b in value) and b"\x7f" not in value


async def relay_body(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    framing: Framing,
    count: ByteCount,
    status: int,
) -> None:
    kind, length = framing
    if kind == "length":
        await relay_length(reader, writer, length, count)
    elif kind == "chunked":
        await relay_chunked(reader, writer, count, status)
    elif kind == "eof":
        await relay_eof(reader, writer, count)
