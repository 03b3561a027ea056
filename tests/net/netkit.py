"""Helpers for the network proxy tests: loopback upstream servers, a recording resolver, the
proxy on a background loop, and raw clients that speak to its unix socket."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.net import AllowListProxy, NetworkRules, ProxyThread, RequestRecord, RunContext

TEST_NAMES = ("allowed.test", "www.allowed.test", "other.test", "evil.test", "api.allowed.test")


def pattern(size: int) -> bytes:
    block = bytes(range(256)) * 4096
    return (block * (size // len(block) + 1))[:size]


def tiny_wheel(name: str = "lockgatetiny", version: str = "1.0") -> tuple[str, bytes]:
    """A minimal valid wheel (file name, bytes), for pip to download through the proxy."""
    import base64
    import hashlib
    import io
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: lockgate-test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return f"{name}-{version}-py3-none-any.whl", buf.getvalue()


class RecordingResolver:
    """Maps test names to loopback and remembers every name it was asked about: a test can
    assert that a refused name was never looked up."""

    def __init__(self, table: dict[str, Sequence[str]] | None = None) -> None:
        self.table = dict(table) if table is not None else {n: ["127.0.0.1"] for n in TEST_NAMES}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream-test"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(
        self, body: bytes, status: int = 200, *, chunked: bool = False, ctype: str = "text/plain"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                part = body[i : i + 7]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        self.wfile.flush()

    def _seen(self) -> None:
        srv: UpstreamServer = self.server.owner  # type: ignore[attr-defined]
        srv.requests.append((self.command, self.path, dict(self.headers.items())))

    def do_GET(self) -> None:
        self._seen()
        srv: UpstreamServer = self.server.owner  # type: ignore[attr-defined]
        if self.path in srv.files:
            ctype = "text/html" if self.path.endswith("/") else "application/octet-stream"
            self._reply(srv.files[self.path], ctype=ctype)
            return
        if self.path.startswith(("/big/", "/short/", "/eof/")):
            # a deterministic pattern; /short/ announces more than it sends, /eof/ has no length
            size = int(self.path.rsplit("/", 1)[1])
            body = pattern(size)
            self.send_response(200)
            if self.path.startswith("/eof/"):
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            if self.path.startswith("/short/"):
                body = body[: size // 2]
                self.close_connection = True
            self.wfile.write(body)
            self.wfile.flush()
            return
        if self.path == "/chunked":
            self._reply(b"hello from a chunked body\n", chunked=True)
            return
        host = self.headers.get("Host", "")
        self._reply(f"hello {self.command} {self.path} host={host}\n".encode())

    def do_HEAD(self) -> None:
        self._seen()
        self._reply(b"head body never sent\n")

    def do_POST(self) -> None:
        self._seen()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._reply(b"got " + data)

    do_PUT = do_POST
    do_DELETE = do_GET


@dataclass
class UpstreamServer:
    port: int
    scheme: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # path -> body, served as is


def serve_upstream(
    tls: ssl.SSLContext | None,
) -> tuple[UpstreamServer, http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    owner = UpstreamServer(httpd.server_address[1], "https" if tls else "http")
    httpd.owner = owner  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return owner, httpd


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path


def loopback_rules(*ports: int, **kw: object) -> NetworkRules:
    """Rules for tests: loopback is named explicitly, since it is refused by default."""
    allow = kw.pop("allow", ("allowed.test", "*.allowed.test"))
    return NetworkRules.build(
        allow=allow,  # type: ignore[arg-type]
        ports=ports,
        addresses=("127.0.0.0/8",),
        **kw,  # type: ignore[arg-type]
    )


@dataclass
class RunningProxy:
    proxy: AllowListProxy
    thread: ProxyThread
    socket_path: Path
    resolver: RecordingResolver
    records: list[RequestRecord]

    def wait_records(self, n: int = 1, timeout: float = 5.0) -> list[RequestRecord]:
        """Records are written when the proxy finishes a request, which may be a moment after
        the client has read its last byte."""
        deadline = time.monotonic() + timeout
        while len(self.records) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.records) >= n, f"expected {n} records, got {self.records}"
        return self.records

    def listen(self, name: str, context: RunContext | None = None) -> Path:
        path = self.socket_path.parent / name
        self.thread.listen(path, context)
        return path


ProxyFactory = Callable[..., RunningProxy]


# --------------------------------------------------------------------------- raw clients


def unix_connect(path: Path, timeout: float = 10.0) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    return s


def recv_all(s: socket.socket) -> bytes:
    out = bytearray()
    while True:
        data = s.recv(65536)
        if not data:
            return bytes(out)
        out += data


def recv_head(s: socket.socket) -> bytes:
    out = bytearray()
    while b"\r\n\r\n" not in out:
        data = s.recv(1)
        if not data:
            break
        out += data
    return bytes(out)


def exchange(path: Path, request: bytes) -> bytes:
    """Send raw bytes to the proxy socket, return everything it answers until it closes."""
    with unix_connect(path) as s:
        s.sendall(request)
        return recv_all(s)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


def connect_tls(
    path: Path, target: str, ctx: ssl.SSLContext, server_hostname: str | None
) -> tuple[bytes, ssl.SSLSocket | None]:
    """CONNECT through the proxy then TLS; returns (CONNECT response head, TLS socket or None)."""
    s = unix_connect(path)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = recv_head(s)
    if status_of(head) != 200:
        rest = recv_all(s)
        s.close()
        return head + rest, None
    return head, ctx.wrap_socket(s, server_hostname=server_hostname)


def https_get(tls_sock: ssl.SSLSocket, host: str, path: str = "/") -> bytes:
    tls_sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    out = bytearray()
    while True:
        try:
            data = tls_sock.recv(65536)
        except ssl.SSLEOFError:
            break
        if not data:
            break
        out += data
    tls_sock.close()
    return bytes(out)
