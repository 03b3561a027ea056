"""TLS inspection against a loopback HTTPS upstream with its own test CA (`--upstream-ca`):
method, read-only and URL rules hold inside HTTPS; the session CA is trusted only by clients
given its bundle; a bad upstream certificate is refused."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from netkit import (
    Cert,
    ProxyFactory,
    UpstreamServer,
    connect_tls,
    https_get,
    loopback_rules,
    pattern,
    recv_all,
    recv_head,
    status_of,
    unix_connect,
)

pytest.importorskip("cryptography", reason="TLS inspection needs the cryptography package")

from sandbox.net.ca import BUNDLE_VARIABLES, Inspection, SessionCA, upstream_context


@pytest.fixture
def session_ca() -> Iterator[SessionCA]:
    d = Path(tempfile.mkdtemp(prefix="lgca-"))
    ca = SessionCA.create(d / "keys", d / "bundle", roots=None)
    yield ca
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def inspection(session_ca: SessionCA, tls_cert: Cert) -> Inspection:
    return Inspection(session_ca, upstream_context(tls_cert.cert))


def _client(ca: SessionCA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.files.bundle))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def _request(tls: ssl.SSLSocket, raw: str) -> bytes:
    tls.sendall(raw.encode())
    out = bytearray()
    while True:
        try:
            data = tls.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError):
            break
        if not data:
            break
        out += data
    tls.close()
    return bytes(out)


def test_session_ca_files(session_ca: SessionCA) -> None:
    files = session_ca.files
    assert stat.S_IMODE(os.stat(files.key_dir).st_mode) == 0o700
    for key in files.key_dir.glob("*.pem"):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert not list(files.bundle_dir.glob("*key*"))
    assert b"PRIVATE" not in files.bundle.read_bytes()
    assert files.bundle.read_bytes().endswith(files.ca_cert.read_bytes())
    env = files.sandbox_env()
    assert set(env) == set(BUNDLE_VARIABLES) and set(env.values()) == {str(files.bundle)}
    session_ca.server_context("allowed.test")
    for leaf in (files.key_dir / "leaves").iterdir():
        assert stat.S_IMODE(os.stat(leaf).st_mode) == 0o600
    # a session CA is never reused
    with pytest.raises(Exception, match="not empty"):
        SessionCA.create(files.key_dir, files.bundle_dir)


def test_bundle_holds_system_roots(tmp_path: Path) -> None:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(b"-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----")
    ca = SessionCA.create(tmp_path / "k", tmp_path / "b", roots=roots)
    text = ca.files.bundle.read_bytes()
    assert text.startswith(roots.read_bytes() + b"\n") and text.endswith(
        ca.files.ca_cert.read_bytes()
    )


def test_https_get_allowed_under_read_only(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    inspection: Inspection,
    session_ca: SessionCA,
) -> None:
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, read_only=True), inspection=inspection)
    head, tls = connect_tls(
        p.socket_path, f"allowed.test:{port}", _client(session_ca), "allowed.test"
    )
    assert status_of(head) == 200 and tls is not None
    assert tls.selected_alpn_protocol() == "http/1.1"
    issuer = dict(x[0] for x in tls.getpeercert()["issuer"])  # type: ignore[index]
    assert issuer["commonName"].startswith("lockgate session CA")
    resp = https_get(tls, f"allowed.test:{port}", "/inside")
    assert status_of(resp) == 200, resp
    assert resp.endswith(f"hello GET /inside host=allowed.test:{port}\n".encode())
    assert https_upstream.requests[-1][1] == "/inside"
    rec = p.wait_records()[-1]
    assert (rec.method, rec.scheme, rec.verdict, rec.status) == ("GET", "https", "allowed", 200)
    assert rec.bytes_down == len(resp)


def test_https_post_refused_under_read_only(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    inspection: Inspection,
    session_ca: SessionCA,
) -> None:
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, read_only=True), inspection=inspection)
    before = len(https_upstream.requests)
    _, tls = connect_tls(p.socket_path, f"allowed.test:{port}", _client(session_ca), "allowed.test")
    assert tls is not None
    resp = _request(
        tls,
        f"POST /steal HTTP/1.1\r\nHost: allowed.test:{port}\r\nContent-Length: 6\r\n\r\nsecret",
    )
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: read-only-http" in resp, resp
    assert len(https_upstream.requests) == before
    rec = p.wait_records()[-1]
    assert (rec.method, rec.scheme, rec.verdict, rec.rule) == (
        "POST", "https", "denied", "read-only-http"
    )  # fmt: skip


def test_method_limit_and_url_rules_inside_https(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    inspection: Inspection,
    session_ca: SessionCA,
) -> None:
    port = https_upstream.port
    rules = loopback_rules(
        port,
        allow=(),
        methods=("GET", "DELETE"),
        urls=(f"GET https://api.allowed.test:{port}/repos/ORG/*",),
    )
    p = make_proxy(rules, inspection=inspection)

    def call(method: str, path: str) -> bytes:
        _, tls = connect_tls(
            p.socket_path, f"api.allowed.test:{port}", _client(session_ca), "api.allowed.test"
        )
        assert tls is not None
        return _request(tls, f"{method} {path} HTTP/1.1\r\nHost: api.allowed.test:{port}\r\n\r\n")

    assert status_of(call("GET", "/repos/ORG/x")) == 200
    resp = call("GET", "/repos/OTHER/x")
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: allow-url" in resp
    resp = call("DELETE", "/repos/ORG/x")
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: allow-url" in resp
    resp = call("PUT", "/repos/ORG/x")
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: allow-method" in resp
    resp = call("GET", "/repos/ORG/%2e%2e/OTHER")
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: allow-url" in resp


def test_host_header_inside_tunnel_must_be_the_tunnel_host(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    inspection: Inspection,
    session_ca: SessionCA,
) -> None:
    """Inspected, the Host header is seen: a tunnel to an allowed front cannot ask for another
    site behind it (domain fronting)."""
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, inspect_tls=True), inspection=inspection)
    _, tls = connect_tls(p.socket_path, f"allowed.test:{port}", _client(session_ca), "allowed.test")
    assert tls is not None
    resp = _request(tls, "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
    assert status_of(resp) == 403 and b"X-Lockgate-Rule: host-header" in resp


def test_sni_must_match_inspected_tunnel(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    inspection: Inspection,
    session_ca: SessionCA,
) -> None:
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, inspect_tls=True), inspection=inspection)
    ctx = _client(session_ca)
    ctx.check_hostname = False
    with pytest.raises((ssl.SSLError, OSError)):
        connect_tls(p.socket_path, f"allowed.test:{port}", ctx, "other.test")
    rec = p.wait_records()[-1]
    assert rec.verdict == "denied"


def test_without_inspection_limits_refuse_connect(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer
) -> None:
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, read_only=True))
    head, tls = connect_tls(
        p.socket_path, f"allowed.test:{port}", ssl.create_default_context(), None
    )
    assert tls is None and status_of(head) == 403
    assert b"X-Lockgate-Rule: inspect-tls-required" in head
    p2 = make_proxy(loopback_rules(port, methods=("GET",), inspect_tls=False))
    head, tls = connect_tls(
        p2.socket_path, f"allowed.test:{port}", ssl.create_default_context(), None
    )
    assert status_of(head) == 403 and b"--inspect-tls" in head


def test_untrusting_client_fails_with_a_reason(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    inspection: Inspection,
    tls_cert: Cert,
) -> None:
    """A client that does not trust the session CA (the host's own trust store, or a pinned
    certificate) fails its handshake; the record says why and how to exempt the domain."""
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, inspect_tls=True), inspection=inspection)
    pinned = ssl.create_default_context(cafile=str(tls_cert.cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        connect_tls(p.socket_path, f"allowed.test:{port}", pinned, "allowed.test")
    with pytest.raises(ssl.SSLCertVerificationError):
        connect_tls(
            p.socket_path, f"allowed.test:{port}", ssl.create_default_context(), "allowed.test"
        )
    recs = p.wait_records(2)
    for rec in recs:
        assert (rec.verdict, rec.rule) == ("denied", "tls-client-refused"), rec
        assert "inspect = false" in rec.reason and "\n" not in rec.reason


def test_exempt_domain_is_an_opaque_tunnel(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer, inspection: Inspection, tls_cert: Cert
) -> None:
    port = https_upstream.port
    rules = loopback_rules(port, read_only=True, no_inspect=("allowed.test",))
    p = make_proxy(rules, inspection=inspection)
    pinned = ssl.create_default_context(cafile=str(tls_cert.cert))
    head, tls = connect_tls(p.socket_path, f"allowed.test:{port}", pinned, "allowed.test")
    assert status_of(head) == 200 and tls is not None
    assert status_of(https_get(tls, "allowed.test", "/x")) == 200
    assert p.wait_records()[-1].method == "CONNECT"


def test_upstream_with_bad_certificate_is_refused(
    make_proxy: ProxyFactory, session_ca: SessionCA, tmp_path: Path
) -> None:
    """The upstream presents a certificate no trusted root signed: 502 before the tunnel opens,
    and the client never sees the server."""
    rogue = SessionCA.create(tmp_path / "rk", tmp_path / "rb")
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    server_ctx = rogue.server_context("allowed.test")

    def serve() -> None:
        with srv:
            conn, _ = srv.accept()
            with contextlib.suppress(OSError):
                server_ctx.wrap_socket(conn, server_side=True).close()

    threading.Thread(target=serve, daemon=True).start()
    inspection = Inspection(session_ca, upstream_context(None))
    p = make_proxy(loopback_rules(port, inspect_tls=True), inspection=inspection)
    head, tls = connect_tls(
        p.socket_path, f"allowed.test:{port}", _client(session_ca), "allowed.test"
    )
    assert tls is None and status_of(head) == 502, head
    assert b"X-Lockgate-Rule: upstream-tls" in head
    rec = p.wait_records()[-1]
    assert rec.rule == "upstream-tls" and "certificate" in rec.reason


def test_large_inspected_download_is_exact(
    make_proxy: ProxyFactory,
    https_upstream: UpstreamServer,
    inspection: Inspection,
    session_ca: SessionCA,
) -> None:
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, inspect_tls=True), inspection=inspection)
    size = 3 * 1024 * 1024 + 17
    for kind in ("big", "eof"):
        _, tls = connect_tls(
            p.socket_path, f"allowed.test:{port}", _client(session_ca), "allowed.test"
        )
        assert tls is not None
        resp = https_get(tls, f"allowed.test:{port}", f"/{kind}/{size}")
        assert status_of(resp) == 200
        assert resp.split(b"\r\n\r\n", 1)[1] == pattern(size), kind


def test_plain_http_inside_inspected_tunnel_is_refused(
    make_proxy: ProxyFactory, https_upstream: UpstreamServer, inspection: Inspection
) -> None:
    port = https_upstream.port
    p = make_proxy(loopback_rules(port, inspect_tls=True), inspection=inspection)
    with unix_connect(p.socket_path) as s:
        s.sendall(f"CONNECT allowed.test:{port} HTTP/1.1\r\n\r\n".encode())
        assert status_of(recv_head(s)) == 200
        s.sendall(b"POST /x HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 1\r\n\r\nx")
        assert not recv_all(s).startswith(b"HTTP/1.1 200")
    rec = p.wait_records()[-1]
    assert rec.verdict == "denied" and rec.method == "CONNECT"


async def test_gate_notes_a_client_that_refused_the_session_ca(
    https_upstream: UpstreamServer, tls_cert: Cert
) -> None:
    """In a session the reason reaches the command's output (the console shows it), since the
    client itself only says "certificate verify failed"."""
    import asyncio

    from netkit import RecordingResolver

    from app.core.model import CommandAction
    from app.execute.network import NetworkGate, TlsSetup

    port = https_upstream.port
    tls = TlsSetup(upstream_ca=tls_cert.cert)
    gate = NetworkGate(
        loopback_rules(port, inspect_tls=True), resolver=RecordingResolver(), tls=tls
    )
    assert set(gate.sandbox_env) >= {"SSL_CERT_FILE", "PIP_CERT", "NODE_EXTRA_CA_CERTS"}
    action = CommandAction(command="curl https://allowed.test", turn_id="t1")
    pinned = ssl.create_default_context(cafile=str(tls_cert.cert))
    try:
        async with gate.socket_for(action) as path:

            def client() -> None:
                with pytest.raises(ssl.SSLCertVerificationError):
                    connect_tls(path, f"allowed.test:{port}", pinned, "allowed.test")

            await asyncio.to_thread(client)
            for _ in range(100):
                if gate._notes:
                    break
                await asyncio.sleep(0.02)
        (note,) = gate.pop_notes(action.id)
        assert note.startswith("network: the client refused lockgate's certificate")
        assert gate.pop_notes(action.id) == []
    finally:
        await gate.close()
    assert not tls.key_dir.exists() and not tls.bundle_dir.exists()


def test_key_dirs_of_dead_sessions_are_removed(tls_cert: Cert) -> None:
    from app.core.config import data_dir
    from app.execute.network import TlsSetup

    root = data_dir() / "tls"
    root.mkdir(parents=True, exist_ok=True)
    dead = subprocess_pid_that_exited()
    orphan = root / f"session-{dead}-abc"
    orphan.mkdir()
    (orphan / "ca-key.pem").write_text("old key")
    alive = root / f"session-{os.getpid()}-def"
    alive.mkdir()
    tls = TlsSetup()
    try:
        assert not orphan.exists() and alive.exists()
    finally:
        tls.close()
        shutil.rmtree(alive)


def subprocess_pid_that_exited() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid
