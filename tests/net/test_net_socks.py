"""SOCKS5 on the proxy's socket (`ALL_PROXY=socks5h://127.0.0.1:3128` inside the sandbox): the
same gate as CONNECT, names resolved by the proxy only after the rules allowed them."""

from __future__ import annotations

import socket
import ssl
import struct
from pathlib import Path

import pytest
from netkit import (
    Cert,
    ProxyFactory,
    UpstreamServer,
    https_get,
    loopback_rules,
    recv_all,
    status_of,
    unix_connect,
)


def _socks(
    path: Path, host: str | bytes, port: int, *, cmd: int = 1, methods: bytes = b"\x00"
) -> tuple[socket.socket, bytes]:
    """Greeting and request; returns (socket, the server's reply to the request)."""
    s = unix_connect(path)
    s.sendall(bytes([5, len(methods)]) + methods)
    choice = s.recv(2)
    if choice != b"\x05\x00":
        return s, choice
    if isinstance(host, bytes):  # an address the client resolved itself
        atyp = b"\x01" if len(host) == 4 else b"\x04"
        addr = atyp + host
    else:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    s.sendall(bytes([5, cmd, 0]) + addr + struct.pack(">H", port))
    reply = b""
    while len(reply) < 10:
        chunk = s.recv(10 - len(reply))
        if not chunk:
            break
        reply += chunk
    return s, reply


def test_socks5h_tunnel_to_allowed_host(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer, tls_cert: Cert
) -> None:
    p = make_proxy(loopback_rules(https_upstream.port))
    s, reply = _socks(p.socket_path, "allowed.test", https_upstream.port)
    assert reply[:2] == b"\x05\x00", reply
    tls = ssl.create_default_context(cafile=str(tls_cert.cert)).wrap_socket(
        s, server_hostname="allowed.test"
    )
    resp = https_get(tls, "allowed.test", "/via-socks")
    assert status_of(resp) == 200 and b"hello GET /via-socks" in resp
    rec = p.wait_records()[-1]
    assert (rec.method, rec.host, rec.verdict) == ("SOCKS", "allowed.test", "allowed")
    assert p.resolver.calls == ["allowed.test"]


def test_socks5h_denied_host_is_never_resolved(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer
) -> None:
    p = make_proxy(loopback_rules(https_upstream.port))
    s, reply = _socks(p.socket_path, "evil.test", https_upstream.port)
    s.close()
    assert reply[:2] == b"\x05\x02"  # connection not allowed by ruleset
    rec = p.wait_records()[-1]
    assert (rec.method, rec.verdict, rec.rule) == ("SOCKS", "denied", "no-rule")
    assert p.resolver.calls == []


def test_socks5_client_resolved_address_needs_an_exact_rule(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer
) -> None:
    p = make_proxy(loopback_rules(https_upstream.port))
    s, reply = _socks(p.socket_path, socket.inet_aton("127.0.0.1"), https_upstream.port)
    s.close()
    assert reply[:2] == b"\x05\x02"
    assert p.wait_records()[-1].rule == "numeric-host"


def test_socks_tls_tunnel_must_carry_tls_and_the_right_name(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer
) -> None:
    p = make_proxy(loopback_rules(https_upstream.port))
    s, reply = _socks(p.socket_path, "allowed.test", https_upstream.port)
    assert reply[:2] == b"\x05\x00"
    s.sendall(b"POST /x HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 1\r\n\r\nx")
    assert recv_all(s) == b""
    s.close()
    assert p.wait_records()[-1].rule == "tls-required"


def test_socks_plain_http_is_judged_per_request(
    make_proxy: ProxyFactory, http_upstream: UpstreamServer
) -> None:
    port = http_upstream.port
    p = make_proxy(loopback_rules(port, methods=("GET",)))
    p.proxy.socks_plain_ports = frozenset({port})
    s, reply = _socks(p.socket_path, "allowed.test", port)
    assert reply[:2] == b"\x05\x00"
    s.sendall(f"GET /plain HTTP/1.1\r\nHost: allowed.test:{port}\r\n\r\n".encode())
    resp = recv_all(s)
    s.close()
    assert status_of(resp) == 200 and resp.endswith(f"host=allowed.test:{port}\n".encode())
    s, reply = _socks(p.socket_path, "allowed.test", port)
    s.sendall(f"PUT /x HTTP/1.1\r\nHost: allowed.test:{port}\r\nContent-Length: 0\r\n\r\n".encode())
    resp = recv_all(s)
    s.close()
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: allow-method" in resp
    s, reply = _socks(p.socket_path, "allowed.test", port)
    s.sendall(b"GET /x HTTP/1.1\r\nHost: other.test\r\n\r\n")
    resp = recv_all(s)
    s.close()
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: host-header" in resp
    assert [r.method for r in p.wait_records(3)] == ["GET", "PUT", "GET"]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [({"methods": b"\x02"}, b"\x05\xff"), ({"cmd": 2}, b"\x05\x07"), ({"cmd": 3}, b"\x05\x07")],
    ids=["no-auth-not-offered", "bind", "udp"],
)
def test_socks_unsupported_requests(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer, kw: dict[str, object], expected: bytes
) -> None:
    p = make_proxy(loopback_rules(https_upstream.port))
    s, reply = _socks(p.socket_path, "allowed.test", https_upstream.port, **kw)  # type: ignore[arg-type]
    s.close()
    assert reply[:2] == expected
    assert p.wait_records()[-1].verdict == "denied"
    assert p.resolver.calls == []


def test_socks_with_inspection_holds_read_only(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer, tls_cert: Cert, tmp_path: Path
) -> None:
    pytest.importorskip("cryptography", reason="TLS inspection needs the cryptography package")
    from sandbox.net.ca import Inspection, SessionCA, upstream_context

    ca = SessionCA.create(tmp_path / "k", tmp_path / "b")
    port = https_upstream.port
    p = make_proxy(
        loopback_rules(port, read_only=True),
        inspection=Inspection(ca, upstream_context(tls_cert.cert)),
    )
    ctx = ssl.create_default_context(cafile=str(ca.files.bundle))
    s, reply = _socks(p.socket_path, "allowed.test", port)
    assert reply[:2] == b"\x05\x00"
    assert (
        status_of(https_get(ctx.wrap_socket(s, server_hostname="allowed.test"), "allowed.test"))
        == 200
    )
    s, reply = _socks(p.socket_path, "allowed.test", port)
    tls = ctx.wrap_socket(s, server_hostname="allowed.test")
    tls.sendall(b"POST /p HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 1\r\n\r\nx")
    resp = https_get(tls, "allowed.test", "/unused")
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: read-only-http" in resp
