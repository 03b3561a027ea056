"""The proxy's red-team cases: request framing the proxy and the upstream server could read
differently, and ways around read-only mode. Each case here was a hole before its fix."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from netkit import ProxyFactory, UpstreamServer, exchange, loopback_rules, status_of


def _post(port: int, headers: str, body: bytes, path: str = "/p") -> bytes:
    return (
        f"POST http://allowed.test:{port}{path} HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
        f"{headers}\r\n"
    ).encode() + body


class RawUpstream:
    """A loopback server that keeps every byte it receives and answers nothing until the
    request's end is seen (or the peer closes): what the proxy sent is exactly what it holds."""

    def __init__(self, reply: bytes = b"") -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.received: list[bytes] = []
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = bytearray()
                while True:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    data += chunk
                    if self.reply and b"\r\n\r\n" in data:
                        conn.sendall(self.reply)
                        break
                self.received.append(bytes(data))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_upstream() -> Iterator[RawUpstream]:
    up = RawUpstream()
    yield up
    up.close()


# --------------------------------------------------------------------------- Connection header


def test_connection_header_cannot_strip_content_length(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """`Connection: content-length` made the proxy frame by a length it then dropped: the server
    read the body as a second request, to any host."""
    port = http_upstream.port
    p = make_proxy(loopback_rules(port))
    smuggled = f"GET http://evil.test:{port}/s HTTP/1.1\r\nHost: evil.test\r\n\r\n".encode()
    req = _post(
        port,
        f"Connection: content-length\r\nContent-Length: {len(smuggled)}\r\n",
        smuggled,
    )
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 200, resp
    assert resp.endswith(b"got " + smuggled)
    seen = http_upstream.requests[-1]
    assert seen[2].get("Content-Length") == str(len(smuggled))
    assert not any(path == "/s" for _, path, _h in http_upstream.requests)


def test_connection_header_cannot_strip_transfer_encoding(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    port = http_upstream.port
    p = make_proxy(loopback_rules(port))
    req = _post(
        port,
        "Connection: transfer-encoding, keep-alive\r\nTransfer-Encoding: chunked\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
    )
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 200 and resp.endswith(b"got hello"), resp
    assert http_upstream.requests[-1][2].get("Transfer-Encoding") == "chunked"


def test_connection_header_cannot_strip_host(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """`Connection: host` dropped the very Host header the proxy had checked."""
    port = http_upstream.port
    p = make_proxy(loopback_rules(port))
    req = (
        f"GET http://allowed.test:{port}/h HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
        "Connection: Host\r\n\r\n"
    ).encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 200
    assert resp.endswith(f"host=allowed.test:{port}\n".encode()), resp


def test_response_connection_header_cannot_strip_content_length(
    make_proxy: ProxyFactory,
) -> None:
    up = RawUpstream(
        reply=b"HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 2\r\n\r\nok"
    )
    try:
        p = make_proxy(loopback_rules(up.port))
        resp = exchange(p.socket_path, _post(up.port, "Content-Length: 0\r\n", b""))
    finally:
        up.close()
    head = resp.split(b"\r\n\r\n", 1)[0].lower()
    assert status_of(resp) == 200 and b"content-length: 2" in head, resp


# --------------------------------------------------------------------------- trailers


@pytest.mark.parametrize(
    "trailer",
    [
        b"X-T: a\nGET http://evil.test/ HTTP/1.1\r\n",
        b"X-T: a\rb\r\n",
        b"X-T: a\x00b\r\n",
    ],
    ids=["bare-LF", "bare-CR", "NUL"],
)
def test_trailer_with_bare_cr_lf_nul_is_refused(
    make_proxy: ProxyFactory, raw_upstream: RawUpstream, trailer: bytes
) -> None:
    p = make_proxy(loopback_rules(raw_upstream.port))
    req = _post(raw_upstream.port, "Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n" + trailer)
    req += b"\r\n"
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 400, resp
    assert b"X-Lockgate-Rule: http-syntax" in resp
    rec = p.wait_records()[-1]
    assert (rec.verdict, rec.rule, rec.status) == ("denied", "http-syntax", 400)
    assert "trailer" in rec.reason
    # the bad trailer line never reached the server
    assert all(b"X-T" not in got for got in raw_upstream.received)


def test_chunk_extension_with_nul_is_refused(
    make_proxy: ProxyFactory, raw_upstream: RawUpstream
) -> None:
    p = make_proxy(loopback_rules(raw_upstream.port))
    req = _post(
        raw_upstream.port, "Transfer-Encoding: chunked\r\n", b"3;x=\x00\r\nabc\r\n0\r\n\r\n"
    )
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 400 and b"X-Lockgate-Rule: http-syntax" in resp, resp


# --------------------------------------------------------------------------- Content-Length


@pytest.mark.parametrize("value", [b"\xb9", b"\xb2\xb3", b"+5", b"5 5", b"0x5", b"-1"])
def test_content_length_must_be_ascii_digits(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, value: bytes
) -> None:
    """`¹` passes str.isdigit(); int() then raised and the connection dropped with no answer
    and no audit record."""
    port = http_upstream.port
    p = make_proxy(loopback_rules(port))
    before = len(http_upstream.requests)
    req = _post(port, "", b"x").replace(b"\r\n\r\n", b"\r\nContent-Length: " + value + b"\r\n\r\n")
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 400, resp
    assert b"X-Lockgate-Rule: http-syntax" in resp
    rec = p.wait_records()[-1]
    assert (rec.verdict, rec.rule, rec.status) == ("denied", "http-syntax", 400)
    assert len(http_upstream.requests) == before


def test_upstream_content_length_must_be_ascii_digits(make_proxy: ProxyFactory) -> None:
    up = RawUpstream(reply=b"HTTP/1.1 200 OK\r\nContent-Length: \xb9\r\n\r\nx")
    try:
        p = make_proxy(loopback_rules(up.port))
        resp = exchange(p.socket_path, _post(up.port, "Content-Length: 0\r\n", b""))
    finally:
        up.close()
    assert status_of(resp) == 502 and b"X-Lockgate-Rule: upstream" in resp, resp
    rec = p.wait_records()[-1]
    assert rec.status == 502 and rec.rule == "upstream" and "Content-Length" in rec.reason


# --------------------------------------------------------------------------- relay errors


def test_overlong_chunk_line_is_a_400_with_record(
    make_proxy: ProxyFactory, raw_upstream: RawUpstream
) -> None:
    p = make_proxy(loopback_rules(raw_upstream.port))
    req = _post(raw_upstream.port, "Transfer-Encoding: chunked\r\n", b"3;" + b"x" * 70000 + b"\r\n")
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 400 and b"X-Lockgate-Rule: http-syntax" in resp, resp
    rec = p.wait_records()[-1]
    assert (rec.verdict, rec.status) == ("denied", 400)


def test_malformed_chunk_size_is_a_400_with_record(
    make_proxy: ProxyFactory, raw_upstream: RawUpstream
) -> None:
    p = make_proxy(loopback_rules(raw_upstream.port))
    req = _post(raw_upstream.port, "Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n")
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 400 and b"X-Lockgate-Rule: http-syntax" in resp, resp
    rec = p.wait_records()[-1]
    assert (rec.verdict, rec.rule, rec.status) == ("denied", "http-syntax", 400)


def test_malformed_upstream_status_is_a_502_with_record(make_proxy: ProxyFactory) -> None:
    up = RawUpstream(reply=b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")
    try:
        p = make_proxy(loopback_rules(up.port))
        resp = exchange(p.socket_path, _post(up.port, "Content-Length: 0\r\n", b""))
    finally:
        up.close()
    assert status_of(resp) == 502 and b"X-Lockgate-Rule: upstream" in resp, resp
    assert p.wait_records()[-1].status == 502


def test_internal_error_is_a_502_with_record(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a bug in the proxy answers the client and leaves an audit record."""
    import sandbox.net.proxy as proxy_mod

    def broken(*_a: object, **_k: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(proxy_mod, "render_head", broken)
    p = make_proxy(loopback_rules(http_upstream.port))
    req = (
        f"GET http://allowed.test:{http_upstream.port}/x HTTP/1.1\r\n"
        f"Host: allowed.test:{http_upstream.port}\r\n\r\n"
    ).encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 502 and b"X-Lockgate-Rule: internal" in resp, resp
    rec = p.wait_records()[-1]
    assert (rec.rule, rec.status) == ("internal", 502) and "RuntimeError" in rec.reason


# --------------------------------------------------------------------------- read-only


@pytest.mark.parametrize(
    "header", ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "x-http-method"]
)
def test_read_only_refuses_method_override_headers(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, header: str
) -> None:
    """A GET that asks the server to treat it as a DELETE is not read-only."""
    port = http_upstream.port
    p = make_proxy(loopback_rules(port, read_only=True))
    before = len(http_upstream.requests)
    req = (
        f"GET http://allowed.test:{port}/x HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
        f"{header}: DELETE\r\n\r\n"
    ).encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: read-only-http" in resp, resp
    assert len(http_upstream.requests) == before
    assert p.wait_records()[-1].verdict == "denied"


def test_method_limit_refuses_override_to_other_method(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    port = http_upstream.port
    p = make_proxy(loopback_rules(port, methods=("GET",)))
    req = (
        f"GET http://allowed.test:{port}/x HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
        "X-HTTP-Method-Override: PUT\r\n\r\n"
    ).encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: allow-method" in resp, resp


def test_read_only_refuses_writing_methods_without_a_body(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """A DELETE needs no body to change things."""
    port = http_upstream.port
    p = make_proxy(loopback_rules(port, read_only=True))
    before = len(http_upstream.requests)
    for method in ("DELETE", "POST", "PUT", "PATCH", "TRACE"):
        req = (
            f"{method} http://allowed.test:{port}/x HTTP/1.1\r\nHost: allowed.test:{port}\r\n\r\n"
        ).encode()
        resp = exchange(p.socket_path, req)
        assert status_of(resp) == 403 and b"X-Lockgate-Rule: read-only-http" in resp, method
    assert len(http_upstream.requests) == before
    for method in ("GET", "HEAD", "OPTIONS"):
        req = (
            f"{method} http://allowed.test:{port}/x HTTP/1.1\r\nHost: allowed.test:{port}\r\n\r\n"
        ).encode()
        assert status_of(exchange(p.socket_path, req)) != 403, method


def test_internal_error_in_the_gate_is_a_502_with_record(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = http_upstream.port
    p = make_proxy(loopback_rules(port))

    async def broken(*_a: object, **_k: object) -> object:
        raise ValueError("bad state")

    monkeypatch.setattr(p.proxy, "_gate", broken)
    req = f"GET http://allowed.test:{port}/x HTTP/1.1\r\nHost: allowed.test:{port}\r\n\r\n"
    resp = exchange(p.socket_path, req.encode())
    assert status_of(resp) == 502 and b"X-Lockgate-Rule: internal" in resp, resp
    resp = exchange(p.socket_path, f"CONNECT allowed.test:{port} HTTP/1.1\r\n\r\n".encode())
    assert status_of(resp) == 502 and b"X-Lockgate-Rule: internal" in resp, resp
    assert [r.rule for r in p.wait_records(2)] == ["internal", "internal"]
