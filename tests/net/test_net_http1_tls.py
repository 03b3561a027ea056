"""HTTP head parsing and framing, and ClientHello parsing on a real hello from Python's ssl."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.net.http1 import (
    HttpError,
    forward_headers,
    parse_request_head,
    parse_response_head,
    request_framing,
    response_framing,
)
from sandbox.net.tls import TlsError, read_client_hello


def _hello(server_name: str | None) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


async def _parse(data: bytes) -> tuple[bytes, str | None]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    hello = await read_client_hello(reader)
    return hello.raw, hello.server_name


async def test_client_hello_server_name() -> None:
    data = _hello("api.example.com")
    raw, name = await _parse(data + b"trailing application data")
    assert raw == data and name == "api.example.com"
    _, name = await _parse(_hello(None))
    assert name is None


async def test_client_hello_split_across_records() -> None:
    data = _hello("example.org")
    body = data[5:]
    half = len(body) // 2
    split = (
        b"\x16\x03\x01" + half.to_bytes(2, "big") + body[:half]
        + b"\x16\x03\x01" + (len(body) - half).to_bytes(2, "big") + body[half:]
    )  # fmt: skip
    raw, name = await _parse(split)
    assert name == "example.org" and raw == split


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00",  # ServerHello, not ClientHello
        b"\x16\x03\x01\x00\x00",
        b"\x17\x03\x03\x00\x10" + b"\x00" * 16,
    ],
)
async def test_not_a_client_hello(data: bytes) -> None:
    with pytest.raises((TlsError, asyncio.IncompleteReadError)):
        await _parse(data)


@given(st.binary(max_size=300))
def test_client_hello_parser_never_crashes(data: bytes) -> None:
    with contextlib.suppress(TlsError, asyncio.IncompleteReadError):
        asyncio.run(_parse(b"\x16\x03\x01" + len(data).to_bytes(2, "big") + data))


def test_request_head_and_framing() -> None:
    h = parse_request_head(
        b"POST http://a.com/x HTTP/1.1\r\nHost: a.com\r\nContent-Length: 5\r\n"
        b"Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nX-Other: 2\r\n\r\n"
    )
    assert (h.method, h.target, h.version) == ("POST", "http://a.com/x", "HTTP/1.1")
    assert request_framing(h) == ("length", 5)
    names = [k for k, _ in forward_headers(h.headers)]
    assert names == ["Host", "Content-Length", "X-Other"]


@pytest.mark.parametrize(
    "raw",
    [
        b"GET http://a.com/ HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET http://a.com/ HTTP/1.1\r\n: x\r\n\r\n",
        b"GET http://a.com/\xff HTTP/1.1\r\n\r\n",
        b"GET http://a.com/ HTTP/1.1\r\nX: a\rb\r\n\r\n",
        b"GET http://a.com/ HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        b"G\x00T http://a.com/ HTTP/1.1\r\n\r\n",
    ],
)
def test_bad_heads(raw: bytes) -> None:
    with pytest.raises(HttpError):
        parse_request_head(raw)


def test_response_framing() -> None:
    r = parse_response_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert response_framing(r, "GET") == ("chunked", 0)
    assert response_framing(r, "HEAD") == ("none", 0)
    r = parse_response_head(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n")
    assert response_framing(r, "GET") == ("none", 0)
    r = parse_response_head(b"HTTP/1.0 200 OK\r\n\r\n")
    assert response_framing(r, "GET") == ("eof", 0)
    with pytest.raises(HttpError):
        parse_response_head(b"HTTP/1.1 20 OK\r\n\r\n")
    r = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    with pytest.raises(HttpError):
        response_framing(r, "GET")


@given(st.binary(max_size=400))
def test_request_parser_never_crashes(data: bytes) -> None:
    with contextlib.suppress(HttpError):
        head = parse_request_head(data + b"\r\n\r\n")
        with contextlib.suppress(HttpError):
            request_framing(head)
