"""Proxy mode: 127.0.0.1:PORT inside the command's network namespace is bridged to a unix socket
outside. Tested with a tiny HTTP server of our own on a unix socket (the real proxy is the
network part's); nothing else of the network opens."""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import KernelSupport, Sandbox, SandboxError, SandboxPolicy

pytestmark = pytest.mark.sandbox


class UnixHttp:
    """Answers every request with its first line; counts connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.lines: list[bytes] = []
        self.big = b"z" * 3_000_000
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            first = data.split(b"\r\n", 1)[0]
            self.lines.append(first)
            body = self.big if b"/big" in first else b"echo " + first
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[UnixHttp]:
    d = Path(tempfile.mkdtemp(prefix="lg-bridge-", dir="/tmp"))
    srv = UnixHttp(d / "proxy.sock")
    yield srv
    srv.close()
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


CLIENT = r"""
import os, socket, sys, urllib.request
port = int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1])
print("proxy", os.environ["HTTP_PROXY"], os.environ["NO_PROXY"])
print(urllib.request.urlopen("http://example.test/hello", timeout=10).read().decode())
print("big", len(urllib.request.urlopen("http://example.test/big", timeout=30).read()))
def attempt(name, fn):
    try:
        fn(); print(name, "OPEN")
    except OSError as e:
        print(name, "BLOCKED")
def other_port():
    s = socket.socket(); s.settimeout(2); s.connect(("127.0.0.1", port + 1))
def bind_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0))
attempt("other_port", other_port)
attempt("bind", bind_port)
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt("ipv6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP))
attempt("public", lambda: socket.create_connection(("1.1.1.1", 80), timeout=2))
"""


def test_bridge_relays_to_the_unix_socket(
    workspace: Path, server: UnixHttp, support: KernelSupport
) -> None:
    (workspace / "client.py").write_text(CLIENT)
    policy = SandboxPolicy(
        workspace=workspace, network="proxy", proxy_socket=server.path, proxy_port=3128
    )
    with Sandbox(policy, kernel=support) as sb:
        assert sb.status().network == "proxy"
        r = sb.run([sys.executable, "-I", "client.py"], timeout=60)
        again = sb.run([sys.executable, "-I", "client.py"], timeout=60)
    out = r.stdout.decode()
    assert r.exit_code == 0, r.stderr.decode()
    assert "proxy http://127.0.0.1:3128 localhost,127.0.0.1,::1" in out
    assert "echo GET http://example.test/hello HTTP/1.1" in out
    assert "big 3000000" in out
    for name in ("other_port", "bind", "udp", "ipv6", "raw", "public"):
        assert f"{name} BLOCKED" in out, out
    assert again.exit_code == 0 and again.stdout == r.stdout
    assert server.lines.count(b"GET http://example.test/hello HTTP/1.1") == 2


def test_per_run_socket_and_missing_socket(
    workspace: Path, server: UnixHttp, support: KernelSupport
) -> None:
    policy = SandboxPolicy(workspace=workspace, network="proxy")
    with Sandbox(policy, kernel=support) as sb:
        with pytest.raises(SandboxError, match="proxy socket"):
            sb.run(["true"])
        (workspace / "client.py").write_text(CLIENT)
        r = sb.run([sys.executable, "-I", "client.py"], timeout=60, proxy_socket=server.path)
        assert r.exit_code == 0, r.stderr.decode()
        with pytest.raises(SandboxError, match="does not exist"):
            sb.run(["true"], proxy_socket=server.path.parent / "absent.sock")


def test_network_off_has_no_inet_and_no_proxy_env(
    workspace: Path, support: KernelSupport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://console-proxy:8080")
    with Sandbox(SandboxPolicy(workspace=workspace), kernel=support) as sb:
        r = sb.run(
            [sys.executable, "-I", "-c",
             "import os, socket\nprint(os.environ.get('HTTP_PROXY'))\ntry:\n socket.socket()\n"
             " print('OPEN')\nexcept OSError:\n print('BLOCKED')"]
        )  # fmt: skip
    assert r.stdout == b"None\nBLOCKED\n"
