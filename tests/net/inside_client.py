"""Runs INSIDE the sandbox (proxy mode): tries the allowed paths and every way around the proxy,
and prints one JSON object with what happened. The test on the host side judges it.

Only the standard library, plus pip's vendored requests when it is importable (a pip-style
client), so it runs with whatever Python the sandbox sees.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request
from typing import Any

HTTP_PORT = int(os.environ["T_HTTP_PORT"])
HTTPS_PORT = int(os.environ["T_HTTPS_PORT"])
CAFILE = os.environ["T_CAFILE"]
PROXY_SOCKET = os.environ["T_PROXY_SOCKET"]
PROXY = os.environ["HTTP_PROXY"].rsplit("/", 1)[-1].split(":")
PROXY_ADDR = (PROXY[0], int(PROXY[1]))


def err(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno

        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


def raw(request: bytes, *, then: bytes = b"") -> tuple[int, bytes]:
    """Talk to the proxy port directly; returns (status, whole answer)."""
    with socket.create_connection(PROXY_ADDR, timeout=20) as s:
        s.sendall(request)
        data = b""
        if then:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(1)
                if not chunk:
                    break
                data += chunk
            s.sendall(then)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def status_of_url(url: str, ctx: ssl.SSLContext | None = None) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=20, context=ctx) as resp:
            return [resp.status, resp.read().decode()]
    except urllib.error.HTTPError as exc:
        return [exc.code, exc.read().decode(errors="replace")]
    except urllib.error.URLError as exc:
        return [0, str(exc.reason)]
    except OSError as exc:
        return [0, str(exc)]


def main() -> None:
    out: dict[str, Any] = {}
    ctx = ssl.create_default_context(cafile=CAFILE)
    out["urllib_http"] = status_of_url(f"http://allowed.test:{HTTP_PORT}/hello")
    out["urllib_https"] = status_of_url(f"https://allowed.test:{HTTPS_PORT}/secure", ctx)
    out["urllib_denied"] = status_of_url(f"http://evil.test:{HTTP_PORT}/")
    out["urllib_https_denied"] = status_of_url(f"https://evil.test:{HTTPS_PORT}/", ctx)
    try:
        from pip._vendor import requests  # type: ignore[import-untyped,unused-ignore]

        r = requests.get(f"https://allowed.test:{HTTPS_PORT}/pip", verify=CAFILE, timeout=20)
        out["pip_requests"] = [r.status_code, r.text]
        try:
            requests.get(f"https://evil.test:{HTTPS_PORT}/", verify=CAFILE, timeout=20)
            out["pip_requests_denied"] = "went through"
        except requests.exceptions.ProxyError as exc:
            out["pip_requests_denied"] = "ProxyError " + str(exc)[:300]
    except ImportError:
        out["pip_requests"] = None

    p, h = HTTP_PORT, "allowed.test"
    bypass = {
        "suffix": f"GET http://allowed.test.evil.test:{p}/ HTTP/1.1\r\nHost: allowed.test.evil.test:{p}\r\n\r\n",
        "userinfo": f"GET http://user@{h}:{p}/ HTTP/1.1\r\nHost: {h}:{p}\r\n\r\n",
        "at_after_port": f"GET http://{h}:{p}@evil.test/ HTTP/1.1\r\n\r\n",
        "port_dot": f"GET http://{h}:80.evil.test/ HTTP/1.1\r\n\r\n",
        "decimal": f"GET http://2130706433:{p}/ HTTP/1.1\r\n\r\n",
        "hex": f"GET http://0x7f.1:{p}/ HTTP/1.1\r\n\r\n",
        "octal": f"GET http://0177.0.0.1:{p}/ HTTP/1.1\r\n\r\n",
        "short": f"GET http://127.1:{p}/ HTTP/1.1\r\n\r\n",
        "dotted": f"GET http://127.0.0.1:{p}/ HTTP/1.1\r\n\r\n",
        "ipv6": f"GET http://[::1]:{p}/ HTTP/1.1\r\n\r\n",
        "mapped": f"GET http://[::ffff:127.0.0.1]:{p}/ HTTP/1.1\r\n\r\n",
        "lookalike": f"GET http://xn--llowed-3we.test:{p}/ HTTP/1.1\r\n\r\n",
        "nul": f"GET http://{h}\x00.evil.test:{p}/ HTTP/1.1\r\n\r\n",
        "host_mismatch": f"GET http://{h}:{p}/ HTTP/1.1\r\nHost: evil.test:{p}\r\n\r\n",
        "connect_host_mismatch": f"CONNECT {h}:{HTTPS_PORT} HTTP/1.1\r\nHost: evil.test\r\n\r\n",
        "connect_metadata": "CONNECT 169.254.169.254:443 HTTP/1.1\r\n\r\n",
        "metadata_by_name": f"GET http://meta.allowed.test:{p}/ HTTP/1.1\r\n\r\n",
        "port": f"GET http://{h}:22/ HTTP/1.1\r\n\r\n",
    }
    out["bypass"] = {k: raw(v.encode())[0] for k, v in bypass.items()}
    # plain HTTP smuggled through a CONNECT tunnel: the proxy wants TLS and closes
    st, data = raw(
        f"CONNECT {h}:{p} HTTP/1.1\r\n\r\n".encode(),
        then=f"POST /smuggled-through-connect HTTP/1.1\r\nHost: {h}\r\nContent-Length: 2\r\n\r\nhi".encode(),
    )
    out["connect_plaintext"] = [st, data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")]

    def attempt(fn: Any) -> str:
        try:
            fn()
            return "ok"
        except BaseException as exc:
            return err(exc)

    def direct(addr: tuple[str, int]) -> None:
        with socket.create_connection(addr, timeout=5):
            pass

    out["direct_upstream"] = attempt(lambda: direct(("127.0.0.1", HTTP_PORT)))
    out["direct_public"] = attempt(lambda: direct(("1.1.1.1", 80)))
    out["dns"] = attempt(lambda: socket.getaddrinfo("allowed.test", 80))

    def udp() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x", ("1.1.1.1", 53))

    out["udp"] = attempt(udp)

    def ipv6() -> None:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.connect(("::1", HTTP_PORT))

    out["ipv6"] = attempt(ipv6)

    def unix_proxy() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(PROXY_SOCKET)

    out["unix_proxy_socket"] = attempt(unix_proxy)

    def raw_sock() -> None:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()

    out["raw_socket"] = attempt(raw_sock)

    # the ask flow: yes, no, and nobody answering in time
    out["ask_yes"] = status_of_url(f"http://ask-yes.test:{HTTP_PORT}/asked")[0]
    out["ask_no"] = status_of_url(f"http://ask-no.test:{HTTP_PORT}/asked")
    out["ask_slow"] = status_of_url(f"http://ask-slow.test:{HTTP_PORT}/asked")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
