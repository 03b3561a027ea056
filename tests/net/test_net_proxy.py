"""The proxy over its unix socket, against real loopback servers (no sandbox needed)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netkit import (
    ProxyFactory,
    RecordingResolver,
    UpstreamServer,
    connect_tls,
    exchange,
    https_get,
    loopback_rules,
    pattern,
    recv_all,
    recv_head,
    status_of,
    unix_connect,
)

from sandbox.net import AskAnswer, AskRequest, NetworkRules, RequestRecord


def _get(port: int, host: str = "allowed.test", path: str = "/x", extra: str = "") -> bytes:
    return (
        f"GET http://{host}:{port}{path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n"
    ).encode()


# --------------------------------------------------------------------------- allowed traffic


def test_plain_http_get_is_forwarded(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    resp = exchange(p.socket_path, _get(http_upstream.port, extra="Proxy-Authorization: x\r\n"))
    assert status_of(resp) == 200, resp
    assert resp.endswith(f"hello GET /x host=allowed.test:{http_upstream.port}\n".encode())
    assert b"connection: close" in resp.lower()
    seen = http_upstream.requests[-1]
    assert seen[1] == "/x"
    assert "Proxy-Authorization" not in seen[2]  # hop-by-hop headers never reach the server
    assert p.resolver.calls == ["allowed.test"]
    (rec,) = p.wait_records()
    assert (rec.method, rec.host, rec.port, rec.verdict, rec.status) == (
        "GET", "allowed.test", http_upstream.port, "allowed", 200
    )  # fmt: skip
    assert rec.command == "test-cmd" and rec.action_id == "cmd-test"
    assert rec.bytes_down == len(resp) and rec.bytes_up > 0
    assert rec.address == "127.0.0.1" and rec.rule == "allow-domain allowed.test"


def test_chunked_response_and_chunked_request(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    resp = exchange(p.socket_path, _get(http_upstream.port, path="/chunked"))
    assert status_of(resp) == 200
    assert b"hello from a chunked body" not in resp.split(b"\r\n\r\n", 1)[0]
    body = resp.split(b"\r\n\r\n", 1)[1]
    assert body.endswith(b"0\r\n\r\n")
    req = (
        f"POST http://allowed.test:{http_upstream.port}/up HTTP/1.1\r\n"
        f"Host: allowed.test:{http_upstream.port}\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    ).encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 200 and resp.endswith(b"got hello world")
    assert p.records[-1].bytes_up > len(b"hello world")


def test_head_request_has_no_body(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    req = _get(http_upstream.port).replace(b"GET ", b"HEAD ", 1)
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 200 and resp.endswith(b"\r\n\r\n")


def test_https_connect_tunnel(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer, client_tls: ssl.SSLContext
) -> None:
    p = make_proxy(loopback_rules(https_upstream.port))
    target = f"api.allowed.test:{https_upstream.port}"
    head, tls = connect_tls(p.socket_path, target, client_tls, "api.allowed.test")
    assert status_of(head) == 200 and tls is not None
    resp = https_get(tls, target, "/secure")
    assert status_of(resp) == 200 and b"hello GET /secure" in resp
    p.wait_records()
    (rec,) = p.records
    assert (rec.method, rec.scheme, rec.verdict, rec.rule) == (
        "CONNECT", "https", "allowed", "allow-domain *.allowed.test"
    )  # fmt: skip
    assert rec.bytes_up > 200 and rec.bytes_down > len(resp)


# --------------------------------------------------------------------------- refusals


def test_unlisted_host_is_denied_without_console_and_never_resolved(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    resp = exchange(p.socket_path, _get(http_upstream.port, host="other.test"))
    assert status_of(resp) == 403
    assert b"rule: no-rule" in resp and b"no console to ask" in resp
    assert b"X-Lockgate-Rule: no-rule" in resp
    assert p.resolver.calls == []
    assert p.records[-1].verdict == "denied" and p.records[-1].host == "other.test"


def test_deny_wins_over_allow(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    rules = loopback_rules(http_upstream.port, deny=("*.allowed.test",))
    p = make_proxy(rules)
    resp = exchange(p.socket_path, _get(http_upstream.port, host="www.allowed.test"))
    assert status_of(resp) == 403 and b"rule: deny-domain *.allowed.test" in resp
    resp = exchange(p.socket_path, _get(http_upstream.port, host="allowed.test"))
    assert status_of(resp) == 403  # a wildcard deny also covers the bare name
    assert p.resolver.calls == []


def test_port_not_allowed(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    p = make_proxy(loopback_rules())
    resp = exchange(p.socket_path, _get(http_upstream.port))
    assert status_of(resp) == 403 and b"rule: allow-port" in resp
    assert p.resolver.calls == []


def test_method_limits_and_read_only(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    port = http_upstream.port
    p = make_proxy(loopback_rules(port, methods=("GET", "HEAD"), read_only=True))
    post = (
        f"POST http://allowed.test:{port}/p HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
        "Content-Length: 3\r\n\r\nabc"
    ).encode()
    resp = exchange(p.socket_path, post)
    assert status_of(resp) == 403 and b"rule: allow-method" in resp
    # a GET with a body is still refused in read-only mode
    get_body = _get(port, extra="Content-Length: 4\r\n") + b"data"
    resp = exchange(p.socket_path, get_body)
    assert status_of(resp) == 403 and b"rule: read-only-http" in resp
    get_chunked = _get(port, extra="Transfer-Encoding: chunked\r\n") + b"0\r\n\r\n"
    resp = exchange(p.socket_path, get_chunked)
    assert status_of(resp) == 403 and b"rule: read-only-http" in resp
    assert status_of(exchange(p.socket_path, _get(port))) == 200
    assert p.resolver.calls == ["allowed.test"]
    assert [r.verdict for r in p.records] == ["denied", "denied", "denied", "allowed"]


def test_loopback_address_refused_unless_rule_names_it(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    rules = NetworkRules.build(allow=("allowed.test",), ports=(http_upstream.port,))
    p = make_proxy(rules)
    resp = exchange(p.socket_path, _get(http_upstream.port))
    assert status_of(resp) == 403 and b"rule: address" in resp and b"loopback" in resp
    assert http_upstream.requests == [] or http_upstream.requests[-1][1] != "/x-never"


@pytest.mark.parametrize(
    "addresses,problem",
    [
        (["10.1.2.3"], b"private"),
        (["169.254.169.254"], b"metadata"),
        (["::ffff:127.0.0.1"], b"IPv4-mapped"),
        (["93.184.215.14", "192.168.1.1"], b"private"),  # one bad answer spoils the set
        (["fe80::1"], b"link-local"),
    ],
)
def test_special_resolved_addresses_refused(
    make_proxy: ProxyFactory, addresses: list[str], problem: bytes
) -> None:
    res = RecordingResolver({"allowed.test": addresses})
    p = make_proxy(NetworkRules.build(allow=("allowed.test",)), resolver=res)
    resp = exchange(
        p.socket_path, b"GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
    )
    assert status_of(resp) == 403 and b"rule: address" in resp and problem in resp


def test_connects_to_the_checked_address_only(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """The resolver is asked once; the connection goes to what it said, whatever DNS says later."""

    class Rebinding(RecordingResolver):
        async def __call__(self, host: str, port: int) -> list[str]:
            self.calls.append(host)
            return ["127.0.0.1"] if len(self.calls) == 1 else ["10.0.0.1"]

    res = Rebinding()
    p = make_proxy(loopback_rules(http_upstream.port), resolver=res)
    resp = exchange(p.socket_path, _get(http_upstream.port))
    assert status_of(resp) == 200
    assert res.calls == ["allowed.test"] and p.records[-1].address == "127.0.0.1"


@pytest.mark.parametrize(
    "target,rule",
    [
        ("http://allowed.test.evil.test:{p}/", b"no-rule"),
        ("http://evilallowed.test:{p}/", b"no-rule"),
        ("http://user@allowed.test:{p}/", b"host-syntax"),
        ("http://allowed.test:{p}@evil.test/", b"host-syntax"),
        ("http://allowed.test:80.evil.test/", b"host-syntax"),
        ("http://127.0.0.1:{p}/", b"numeric-host"),
        ("http://2130706433:{p}/", b"host-syntax"),
        ("http://0x7f.1:{p}/", b"host-syntax"),
        ("http://0177.0.0.1:{p}/", b"host-syntax"),
        ("http://127.1:{p}/", b"host-syntax"),
        ("http://[::1]:{p}/", b"numeric-host"),
        ("http://[::ffff:127.0.0.1]:{p}/", b"numeric-host"),
        ("http://xn--llowed-3we.test:{p}/", b"look-alike"),  # Cyrillic а + "llowed"
        ("http://allowed.test%2eevil.test:{p}/", b"host-syntax"),
        ("http://allowed.test\\@evil.test:{p}/", b"host-syntax"),
    ],
)
def test_bypass_forms_refused_before_dns(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, target: str, rule: bytes
) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    t = target.format(p=http_upstream.port)
    host = t.split("//", 1)[1].split("/", 1)[0]
    req = f"GET {t} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 403, resp
    assert b"rule: " + rule in resp, resp
    assert p.resolver.calls == []


def test_nul_in_request_is_refused(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    req = f"GET http://allowed.test\x00.evil.test:{http_upstream.port}/ HTTP/1.1\r\n\r\n".encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 400 and p.resolver.calls == []
    req = _get(http_upstream.port, extra="X-A: a\x00b\r\n")
    assert status_of(exchange(p.socket_path, req)) == 400


@pytest.mark.parametrize(
    "host_header",
    ["evil.test:{p}", "allowed.test", "allowed.test:{p}\r\nHost: evil.test", "Allowed.Test:1"],
)
def test_host_header_must_agree(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, host_header: str
) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    h = host_header.format(p=http_upstream.port)
    req = f"GET http://allowed.test:{http_upstream.port}/ HTTP/1.1\r\nHost: {h}\r\n\r\n".encode()
    resp = exchange(p.socket_path, req)
    assert status_of(resp) in (400, 403) and b"host-header" in resp
    assert p.resolver.calls == []


def test_host_header_case_and_trailing_dot_agree(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    p = make_proxy(loopback_rules(http_upstream.port))
    port = http_upstream.port
    req = f"GET http://ALLOWED.test.:{port}/ HTTP/1.1\r\nHost: allowed.TEST:{port}\r\n\r\n"
    assert status_of(exchange(p.socket_path, req.encode())) == 200
    assert p.resolver.calls == ["allowed.test"]


def test_connect_host_header_must_agree(make_proxy: ProxyFactory) -> None:
    p = make_proxy(loopback_rules())
    req = b"CONNECT allowed.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n"
    resp = exchange(p.socket_path, req)
    assert status_of(resp) == 403 and b"host-header" in resp
    assert p.resolver.calls == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /relative HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
        b"GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
        b"GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n folded\r\n\r\n",
        b"POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 1\r\n"
        b"Content-Length: 2\r\n\r\n",
        b"POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n"
        b"Transfer-Encoding: gzip, chunked\r\n\r\n",
        b"GET http://allowed.test/ HTTP/2.0\r\nHost: allowed.test\r\n\r\n",
        b"GET http://allowed.test/ HTTP/1.1\nHost: allowed.test\n\n\r\n\r\n",
        b"GET  http://allowed.test/ HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_requests_get_400(make_proxy: ProxyFactory, request_bytes: bytes) -> None:
    p = make_proxy(loopback_rules())
    resp = exchange(p.socket_path, request_bytes)
    assert status_of(resp) == 400, resp
    assert p.resolver.calls == []


def test_connect_tunnel_requires_tls(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """Plain HTTP inside CONNECT would dodge the host checks (its Host header is never seen):
    the tunnel is closed instead. (With method limits, an uninspected CONNECT is refused.)"""
    p = make_proxy(loopback_rules(http_upstream.port))
    before = len(http_upstream.requests)
    with unix_connect(p.socket_path) as s:
        s.sendall(f"CONNECT allowed.test:{http_upstream.port} HTTP/1.1\r\n\r\n".encode())
        assert status_of(recv_head(s)) == 200
        s.sendall(b"POST /steal HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 3\r\n\r\nabc")
        assert recv_all(s) == b""
    assert len(http_upstream.requests) == before
    p.wait_records()
    assert p.records[-1].verdict == "denied" and p.records[-1].rule == "tls-required"


def test_sni_must_match_connect_target(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer
) -> None:
    """A tunnel opened to allowed.test that asks TLS for other.test is cut before upstream."""
    p = make_proxy(loopback_rules(https_upstream.port))
    s = unix_connect(p.socket_path)
    s.sendall(f"CONNECT allowed.test:{https_upstream.port} HTTP/1.1\r\n\r\n".encode())
    assert status_of(recv_head(s)) == 200
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with pytest.raises((ssl.SSLError, OSError)):
        ctx.wrap_socket(s, server_hostname="other.test")
    s.close()
    p.wait_records()
    (rec,) = p.records
    assert (rec.rule, rec.verdict) == ("sni-mismatch", "denied")
    assert rec.bytes_up == 0


# --------------------------------------------------------------------------- asking


def test_ask_allow_once_then_ask_again(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    asked: list[AskRequest] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req)
        return AskAnswer.ONCE

    p = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    for _ in range(2):
        resp = exchange(p.socket_path, _get(http_upstream.port, host="other.test"))
        assert status_of(resp) == 200
    assert [a.host for a in asked] == ["other.test", "other.test"]
    assert asked[0].method == "GET" and asked[0].scheme == "http"
    assert asked[0].context.command == "test-cmd"
    assert p.records[-1].rule == "ask:once"


def test_ask_session_is_remembered(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    asked: list[str] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req.host)
        return AskAnswer.SESSION

    p = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    for _ in range(3):
        assert (
            status_of(exchange(p.socket_path, _get(http_upstream.port, host="other.test"))) == 200
        )
    assert asked == ["other.test"]
    assert p.records[-1].rule == "allow-domain other.test"


def test_ask_deny_is_403_and_not_asked_again(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    asked: list[str] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req.host)
        return AskAnswer.DENY

    p = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    for _ in range(2):
        resp = exchange(p.socket_path, _get(http_upstream.port, host="other.test"))
        assert status_of(resp) == 403 and b"rule: ask:de" in resp
    assert asked == ["other.test"] and p.resolver.calls == []


def test_ask_timeout_denies(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    async def asker(req: AskRequest) -> AskAnswer:
        await asyncio.sleep(30)
        return AskAnswer.ONCE

    p = make_proxy(loopback_rules(http_upstream.port), asker=asker, ask_timeout_s=0.3)
    t0 = time.monotonic()
    resp = exchange(p.socket_path, _get(http_upstream.port, host="other.test"))
    assert status_of(resp) == 403 and b"rule: ask:timeout" in resp
    assert time.monotonic() - t0 < 5
    assert p.resolver.calls == []


def test_ask_failure_denies(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    async def asker(req: AskRequest) -> AskAnswer:
        raise RuntimeError("console gone")

    p = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    resp = exchange(p.socket_path, _get(http_upstream.port, host="other.test"))
    assert status_of(resp) == 403 and b"rule: ask:error" in resp


def test_concurrent_requests_share_one_ask(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    asked: list[str] = []
    release = threading.Event()

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req.host)
        while not release.is_set():
            await asyncio.sleep(0.02)
        return AskAnswer.ONCE

    p = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    results: list[int] = []

    def one() -> None:
        results.append(
            status_of(exchange(p.socket_path, _get(http_upstream.port, host="other.test")))
        )

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    release.set()
    for t in threads:
        t.join(10)
    assert results == [200, 200, 200] and asked == ["other.test"]


def test_ip_literals_and_lookalikes_are_not_asked(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    asked: list[str] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req.host)
        return AskAnswer.ONCE

    p = make_proxy(loopback_rules(http_upstream.port), asker=asker)
    for host in ("127.0.0.1", "[::1]", "xn--llowed-3we.test"):
        resp = exchange(p.socket_path, _get(http_upstream.port, host=host))
        assert status_of(resp) == 403
    assert asked == [] and p.resolver.calls == []


def test_ip_literal_allowed_by_exact_rule(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    rules = NetworkRules.build(allow=("127.0.0.1",), ports=(http_upstream.port,))
    p = make_proxy(rules)
    assert status_of(exchange(p.socket_path, _get(http_upstream.port, host="127.0.0.1"))) == 200
    # the same address in another spelling is still refused
    assert status_of(exchange(p.socket_path, _get(http_upstream.port, host="127.1"))) == 403
    assert p.resolver.calls == []


def test_upstream_unreachable_is_502(make_proxy: ProxyFactory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    p = make_proxy(loopback_rules(free))
    resp = exchange(p.socket_path, _get(free))
    assert status_of(resp) == 502 and b"rule: connect" in resp


def test_unresolvable_name_is_502(make_proxy: ProxyFactory) -> None:
    res = RecordingResolver({})
    p = make_proxy(loopback_rules(), resolver=res)
    resp = exchange(p.socket_path, b"GET http://allowed.test/ HTTP/1.1\r\n\r\n")
    assert status_of(resp) == 502 and b"rule: resolve" in resp
    assert res.calls == ["allowed.test"]


# --------------------------------------------------------------------------- bulk transfer


@pytest.fixture(params=["kernel-splice", "protocol-splice"])
def splice_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run bulk tests with splice(2) and with the portable protocol path."""
    import sandbox.net.splice as splice

    if request.param == "protocol-splice":
        monkeypatch.setattr(splice, "HAVE_KERNEL_SPLICE", False)
    elif not splice.HAVE_KERNEL_SPLICE:
        pytest.skip("no os.splice on this platform")
    return str(request.param)


@pytest.mark.parametrize("kind", ["big", "eof"])
def test_large_plain_download_is_exact(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, splice_mode: str, kind: str
) -> None:
    size = 3 * 1024 * 1024 + 17
    p = make_proxy(loopback_rules(http_upstream.port))
    resp = exchange(p.socket_path, _get(http_upstream.port, path=f"/{kind}/{size}"))
    head, body = resp.split(b"\r\n\r\n", 1)
    assert status_of(head) == 200
    assert body == pattern(size)
    rec = p.wait_records()[-1]
    assert rec.bytes_down == len(resp) and rec.verdict == "allowed" and rec.reason == ""


def test_short_upstream_body_is_noted(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, splice_mode: str
) -> None:
    size = 1024 * 1024
    p = make_proxy(loopback_rules(http_upstream.port))
    resp = exchange(p.socket_path, _get(http_upstream.port, path=f"/short/{size}"))
    body = resp.split(b"\r\n\r\n", 1)[1]
    assert len(body) < size  # the client sees a truncated body, never padding
    p.wait_records()
    assert "early" in p.records[-1].reason or "lost" in p.records[-1].reason


def test_large_https_download_through_tunnel(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    client_tls: ssl.SSLContext,
    splice_mode: str,
) -> None:
    size = 2 * 1024 * 1024 + 5
    p = make_proxy(loopback_rules(https_upstream.port))
    target = f"allowed.test:{https_upstream.port}"
    _, tls = connect_tls(p.socket_path, target, client_tls, "allowed.test")
    assert tls is not None
    resp = https_get(tls, target, f"/big/{size}")
    assert resp.split(b"\r\n\r\n", 1)[1] == pattern(size)
    p.wait_records()
    assert p.records[-1].bytes_down > size


def test_closing_the_listener_ends_open_tunnels(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer, client_tls: ssl.SSLContext
) -> None:
    """When the command's run ends, its socket closes and so does every tunnel it opened."""
    p = make_proxy(loopback_rules(https_upstream.port))
    target = f"allowed.test:{https_upstream.port}"
    _, tls = connect_tls(p.socket_path, target, client_tls, "allowed.test")
    assert tls is not None
    p.thread.call(p.proxy.close())
    tls.settimeout(5)
    with pytest.raises((ssl.SSLError, OSError)):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
        if not tls.recv(1):
            raise ConnectionResetError("closed")
    assert p.records and p.records[-1].method == "CONNECT"


def test_truncated_body_is_not_followed_by_an_error_response(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer, splice_mode: str
) -> None:
    """Once a response head went out, a failure may only cut the body: appending a 502 would
    hand the client bytes that look like part of the body."""
    size = 1024 * 1024
    p = make_proxy(loopback_rules(http_upstream.port))
    resp = exchange(p.socket_path, _get(http_upstream.port, path=f"/short/{size}"))
    body = resp.split(b"\r\n\r\n", 1)[1]
    assert body == pattern(size)[: len(body)]
    assert b"lockgate" not in body
    assert p.wait_records()[-1].status == 200


def test_connection_cap_per_socket(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    p = make_proxy(loopback_rules(http_upstream.port), max_connections=2)
    idle = [unix_connect(p.socket_path) for _ in range(2)]  # two slow clients hold their slots
    try:
        time.sleep(0.2)
        resp = exchange(p.socket_path, _get(http_upstream.port))
        assert status_of(resp) == 503 and b"rule: connection-limit" in resp
    finally:
        for s in idle:
            s.close()
    time.sleep(0.2)
    assert status_of(exchange(p.socket_path, _get(http_upstream.port))) == 200


def test_ask_flood_is_capped(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    """A command that invents host names cannot bury the reviewer in questions."""
    asked: list[str] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req.host)
        return AskAnswer.DENY

    res = RecordingResolver({f"h{i}.test": ["127.0.0.1"] for i in range(10)})
    p = make_proxy(
        loopback_rules(http_upstream.port), asker=asker, resolver=res, max_asks_per_run=3
    )
    statuses = [
        exchange(p.socket_path, _get(http_upstream.port, host=f"h{i}.test")) for i in range(6)
    ]
    assert len(asked) == 3
    assert all(status_of(r) == 403 for r in statuses)
    assert b"rule: ask:limit" in statuses[-1]


def test_pending_asks_are_capped(make_proxy: ProxyFactory, http_upstream: UpstreamServer) -> None:
    release = threading.Event()
    asked: list[str] = []

    async def asker(req: AskRequest) -> AskAnswer:
        asked.append(req.host)
        while not release.is_set():
            await asyncio.sleep(0.02)
        return AskAnswer.DENY

    res = RecordingResolver({f"h{i}.test": ["127.0.0.1"] for i in range(10)})
    p = make_proxy(
        loopback_rules(http_upstream.port), asker=asker, resolver=res, max_pending_asks=2
    )
    waiting = [unix_connect(p.socket_path) for _ in range(2)]
    for i, s in enumerate(waiting):
        s.sendall(_get(http_upstream.port, host=f"h{i}.test"))
    for _ in range(100):
        if len(asked) == 2:
            break
        time.sleep(0.02)
    resp = exchange(p.socket_path, _get(http_upstream.port, host="h9.test"))
    assert status_of(resp) == 403 and b"rule: ask:busy" in resp
    release.set()
    for s in waiting:
        assert status_of(recv_all(s)) == 403
        s.close()
    assert sorted(asked) == ["h0.test", "h1.test"]


def test_client_leaving_mid_download_is_recorded_quietly(
    make_proxy: ProxyFactory,
    http_upstream: UpstreamServer,
    splice_mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    size = 16 * 1024 * 1024
    p = make_proxy(loopback_rules(http_upstream.port))
    with unix_connect(p.socket_path) as s:
        s.sendall(_get(http_upstream.port, path=f"/big/{size}"))
        got = 0
        while got < 256 * 1024:
            got += len(s.recv(65536))
    (rec,) = p.wait_records(timeout=10)
    assert rec.verdict == "allowed" and 0 < rec.bytes_down < size
    assert "proxy connection failed" not in caplog.text


def test_unrecordable_requests_stop(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """Once the record sink fails (audit log unwritable), every later request is refused."""
    p = make_proxy(loopback_rules(http_upstream.port))

    def broken(rec: RequestRecord) -> None:
        raise OSError("disk full")

    p.proxy._record = broken
    assert status_of(exchange(p.socket_path, _get(http_upstream.port))) == 200
    resp = exchange(p.socket_path, _get(http_upstream.port))
    assert status_of(resp) == 403 and b"rule: audit" in resp and b"disk full" in resp


_AUTHORITY = st.text(
    alphabet=st.sampled_from(
        list("allowed.test") + list("evil:@[]%0x7f1.-_\\/?#") + ["\x00", "а", "\u200b", "ß", "．"]
    ),
    min_size=1,
    max_size=40,
)


def test_fuzzed_authorities_only_ever_reach_the_allowed_host(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    """Whatever the request line and Host header say, the only name ever resolved is the
    allowed one, and whatever reaches the upstream carries the allowed Host."""
    port = http_upstream.port
    p = make_proxy(loopback_rules(port, allow=("allowed.test",)))
    with_port = _AUTHORITY.map(lambda a: f"{a}:{port}")
    authorities = st.one_of(st.just(f"allowed.test:{port}"), _AUTHORITY, with_port)
    reached: list[int] = []

    @settings(max_examples=150, deadline=None)
    @given(authority=authorities, host_header=st.one_of(st.none(), authorities))
    def check(authority: str, host_header: str | None) -> None:
        before = len(http_upstream.requests)
        head = f"GET http://{authority}/fz HTTP/1.1\r\n"
        if host_header is not None:
            head += f"Host: {host_header}\r\n"
        resp = exchange(p.socket_path, (head + "\r\n").encode("utf-8"))
        assert set(p.resolver.calls) <= {"allowed.test"}
        assert status_of(resp) in (200, 400, 403), resp[:300]
        for _, _path, headers in http_upstream.requests[before:]:
            host = headers.get("Host", "").lower()
            assert host in (f"allowed.test:{port}", f"allowed.test.:{port}"), host
        if status_of(resp) == 200:
            reached.append(1)

    check()
    assert reached  # the honest spelling did get through
