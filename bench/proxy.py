"""Throughput and added latency of lockgate's network proxy on loopback.

A 10 MB download straight from a loopback HTTP(S) server, and the same download through the
proxy (plain-HTTP forwarding and a CONNECT tunnel with TLS end to end), interleaved, several
rounds; then small requests for the latency the proxy adds. Upstream server, proxy and client
each run in their own process, as they would (server elsewhere, proxy in the console, client in
the sandbox). Goal: through the proxy ≥ 50 % of direct throughput.

    .venv/bin/python bench/proxy.py [--rounds 5] [--size-mb 10] [--small 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.net import AllowListProxy, NetworkRules, RunContext

NAME = "bench.test"


# --------------------------------------------------------------------------- upstream server


def _upstream(port_out: mp.connection.Connection, tls: tuple[str, str] | None) -> None:
    payload = memoryview(b"\x5a" * (1 << 20))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        path = head.split(b" ", 2)[1].decode()
        size = int(path.rsplit("/", 1)[1]) if path.startswith("/big/") else 100
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode()
        )
        left = size
        while left:
            n = min(left, len(payload))
            writer.write(payload[:n])
            left -= n
            await writer.drain()
        writer.close()

    async def main() -> None:
        ctx = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        port_out.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _proxy(sock_path: str, ports: list[int], ready: mp.connection.Connection) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async def main() -> None:
        rules = NetworkRules.build(allow=[NAME], ports=ports, addresses=["127.0.0.0/8"])
        # The injected resolver maps the bench name to loopback (constructor-only, as in tests).
        proxy = AllowListProxy(rules, resolver=resolver)
        await proxy.listen(Path(sock_path), RunContext(command="bench"))
        ready.send(True)
        await asyncio.Event().wait()

    asyncio.run(main())


# --------------------------------------------------------------------------- clients


def _read_response(s: socket.socket | ssl.SSLSocket) -> int:
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    while True:
        try:
            n = s.recv_into(view)
        except ssl.SSLEOFError:
            break
        if n == 0:
            break
        total += n
    return total


def direct(port: int, path: str, tls: ssl.SSLContext | None) -> int:
    s: socket.socket | ssl.SSLSocket = socket.create_connection(("127.0.0.1", port))
    if tls is not None:
        s = tls.wrap_socket(s, server_hostname=NAME)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {NAME}:{port}\r\n\r\n".encode())
    n = _read_response(s)
    s.close()
    return n


def via_proxy(sock: str, port: int, path: str, tls: ssl.SSLContext | None) -> int:
    s: socket.socket | ssl.SSLSocket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    if tls is None:
        s.sendall(
            f"GET http://{NAME}:{port}{path} HTTP/1.1\r\nHost: {NAME}:{port}\r\n\r\n".encode()
        )
        n = _read_response(s)
        s.close()
        return n
    s.sendall(f"CONNECT {NAME}:{port} HTTP/1.1\r\nHost: {NAME}:{port}\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += s.recv(1)
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise SystemExit(f"proxy refused the bench tunnel: {head!r}")
    t = tls.wrap_socket(s, server_hostname=NAME)
    t.sendall(f"GET {path} HTTP/1.1\r\nHost: {NAME}:{port}\r\n\r\n".encode())
    n = _read_response(t)
    t.close()
    return n


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def _pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


_INSIDE = """
import os, socket, sys, time
host, port = os.environ["HTTP_PROXY"].rsplit("/", 1)[-1].split(":")
t0 = time.perf_counter()
s = socket.create_connection((host, int(port)))
s.sendall(sys.argv[1].encode())
buf = bytearray(1 << 20); view = memoryview(buf); n = 0
while True:
    k = s.recv_into(view)
    if not k:
        break
    n += k
print(n, time.perf_counter() - t0)
"""


def _through_sandbox(sock: str, port: int, size: int, rounds: int, tmp: Path) -> None:
    """For information: the same download from inside the sandbox, through its bridge."""
    try:
        from sandbox import Sandbox, SandboxPolicy, probe

        if not probe().can_run():
            print("  through the sandbox bridge: skipped (sandbox cannot run here)")
            return
    except Exception as exc:
        print(f"  through the sandbox bridge: skipped ({exc})")
        return
    ws = tmp / "ws"
    ws.mkdir(exist_ok=True)
    request = f"GET http://{NAME}:{port}/big/{size} HTTP/1.1\r\nHost: {NAME}:{port}\r\n\r\n"
    times: list[float] = []
    policy = SandboxPolicy(workspace=ws, network="proxy", proxy_socket=Path(sock))
    with Sandbox(policy) as sb:
        for _ in range(rounds):
            r = sb.run([sys.executable, "-I", "-c", _INSIDE, request], timeout=60)
            n, dt = r.stdout.split()
            assert int(n) >= size, r
            times.append(float(dt))
    mbs = size / statistics.median(times) / 1e6
    print(f"  through the sandbox bridge (plain HTTP, timed inside the sandbox) {mbs:8.1f} MB/s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--size-mb", type=int, default=10)
    ap.add_argument("--small", type=int, default=200, help="small requests for latency")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lockgate-bench-proxy-"))
    procs: list[Any] = []
    try:
        tls_files: tuple[str, str] | None = None
        if shutil.which("openssl"):
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(tmp / "k.pem"),
                    "-out", str(tmp / "c.pem"), "-days", "1", "-subj", f"/CN={NAME}",
                    "-addext", f"subjectAltName=DNS:{NAME}",
                ],
                check=True,
                capture_output=True,
            )  # fmt: skip
            tls_files = (str(tmp / "c.pem"), str(tmp / "k.pem"))
        ctx = mp.get_context("fork")
        ports: dict[str, int] = {}
        for scheme, files in (("http", None), ("https", tls_files)):
            if scheme == "https" and files is None:
                continue
            a, b = ctx.Pipe()
            p = ctx.Process(target=_upstream, args=(b, files), daemon=True)
            p.start()
            procs.append(p)
            ports[scheme] = a.recv()
        sock = str(tmp / "proxy.sock")
        a, b = ctx.Pipe()
        p = ctx.Process(target=_proxy, args=(sock, list(ports.values()), b), daemon=True)
        p.start()
        procs.append(p)
        a.recv()

        client_tls = None
        if tls_files:
            client_tls = ssl.create_default_context(cafile=tls_files[0])

        size = args.size_mb << 20
        big = f"/big/{size}"
        print(f"lockgate proxy bench: {args.size_mb} MB download, {args.rounds} rounds, loopback")
        ok = True
        for scheme, port in ports.items():
            tls = client_tls if scheme == "https" else None
            d_times: list[float] = []
            p_times: list[float] = []
            for _ in range(args.rounds):
                dt, n = _timed(partial(direct, port, big, tls))
                assert n >= size, n
                d_times.append(dt)
                pt, n = _timed(partial(via_proxy, sock, port, big, tls))
                assert n >= size, n
                p_times.append(pt)
            d_mbs = size / statistics.median(d_times) / 1e6
            p_mbs = size / statistics.median(p_times) / 1e6
            ratio = p_mbs / d_mbs
            best = min(d_times) / min(p_times)  # less sensitive to other load on the machine
            ok = ok and ratio >= 0.5
            label = "plain HTTP (forward)" if scheme == "http" else "HTTPS (CONNECT tunnel)"
            print(
                f"  {label:24s} direct {d_mbs:8.1f} MB/s   via proxy {p_mbs:8.1f} MB/s   "
                f"ratio {ratio:5.2f} (best-of {best:4.2f})  (goal >= 0.50)"
            )
        port = ports["http"]
        d_lat: list[float] = []
        p_lat: list[float] = []
        for _ in range(args.small):
            d_lat.append(_timed(lambda: direct(port, "/small", None))[0])
            p_lat.append(_timed(lambda: via_proxy(sock, port, "/small", None))[0])
        dm, pm = statistics.median(d_lat) * 1e3, statistics.median(p_lat) * 1e3
        print(
            f"  small request latency     direct p50 {dm:6.3f} ms p95 {_pct(d_lat, 0.95) * 1e3:6.3f} ms"
            f"   via proxy p50 {pm:6.3f} ms p95 {_pct(p_lat, 0.95) * 1e3:6.3f} ms"
            f"   added p50 {pm - dm:6.3f} ms"
        )
        print("  goal met" if ok else "  goal NOT met")
        _through_sandbox(sock, ports["http"], size, args.rounds, tmp)
        return 0
    finally:
        for p in procs:
            p.kill()
            p.join(5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
