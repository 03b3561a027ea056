"""A loopback server that speaks each registry's documented JSON (PyPI's Simple JSON API with
PEP 700/792 fields, npm package documents, crates.io, the Go module proxy, RubyGems), with
packages that exist, are missing, brand new, quarantined, deprecated or yanked. Every request is
recorded, so tests can prove which names went where."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pypi_project(
    name: str, versions: dict[str, int], status: str = "", yanked: dict[str, str] | None = None
) -> dict[str, Any]:
    yanked = yanked or {}
    files = []
    for v, days in versions.items():
        fn = f"{name.replace('-', '_')}-{v}-py3-none-any.whl"
        files.append(
            {
                "filename": fn,
                "url": f"https://files.example/{fn}",
                "hashes": {"sha256": "0" * 64},
                "upload-time": ago(days),
                "yanked": yanked.get(v, False) if v in yanked else False,
            }
        )
    doc: dict[str, Any] = {
        "meta": {"api-version": "1.4"},
        "name": name,
        "versions": list(versions),
        "files": files,
    }
    if status:
        doc["project-status"] = {"status": status, "reason": f"{name} was found to ship malware"}
    return doc


PYPI: dict[str, dict[str, Any]] = {
    "oldpkg": _pypi_project(
        "oldpkg", {"1.0": 2000, "1.1": 1500, "2.0": 900, "2.1": 400, "3.0": 30}
    ),
    "brandnew": _pypi_project("brandnew", {"0.1": 3}),
    "youngpkg": _pypi_project("youngpkg", {"0.1": 60, "0.2": 45}),
    "badpkg": _pypi_project("badpkg", {"1.0": 400}, status="quarantined"),
    "retiredpkg": _pypi_project(
        "retiredpkg",
        {"1.0": 900, "1.1": 800, "1.2": 700, "1.3": 600, "1.4": 500},
        status="deprecated",
    ),
    "yankpkg": _pypi_project(
        "yankpkg",
        {"1.0": 900, "1.1": 800, "1.2": 700, "1.3": 600, "1.4": 500},
        yanked={"1.3": "broken build, use 1.4"},
    ),
}
PRIVATE_PYPI: dict[str, dict[str, Any]] = {
    "corp-internal": _pypi_project("corp-internal", {"1.0": 10}),
}
NPM: dict[str, dict[str, Any]] = {
    "oldnpm": {
        "name": "oldnpm",
        "description": "an old package",
        "time": {"created": ago(3000), "modified": ago(10), "1.0.0": ago(3000), "2.0.0": ago(100)},
        "versions": {"1.0.0": {"deprecated": "use 2.x"}, "2.0.0": {}},
        "maintainers": [{"name": "a"}, {"name": "b"}],
        "dist-tags": {"latest": "2.0.0"},
    },
    "newnpm": {
        "name": "newnpm",
        "time": {"created": ago(5), "modified": ago(5), "0.0.1": ago(5)},
        "versions": {"0.0.1": {}},
        "maintainers": [{"name": "x"}],
    },
    "held-npm": {
        "name": "held-npm",
        "description": "security holding package",
        "time": {"created": ago(400), "modified": ago(30), "0.0.1-security": ago(30)},
        "versions": {"0.0.1-security": {}},
    },
    "@corp/ui": {
        "name": "@corp/ui",
        "time": {"created": ago(300), "1.0.0": ago(300)},
        "versions": {"1.0.0": {}},
    },
}
CRATES: dict[str, dict[str, Any]] = {
    "oldcrate": {
        "crate": {"name": "oldcrate", "created_at": ago(2000), "max_version": "1.2.0"},
        "versions": [
            {"num": "1.2.0", "yanked": False, "created_at": ago(100)},
            {"num": "1.1.0", "yanked": True, "created_at": ago(500)},
            {"num": "1.0.0", "yanked": False, "created_at": ago(2000)},
        ],
    },
}
GO: dict[str, dict[str, str]] = {
    "github.com/old/mod": {"v1.0.0": ago(1000), "v1.1.0": ago(200)},
}
GEMS: dict[str, list[dict[str, Any]]] = {
    "oldgem": [
        {"number": "2.0.0", "created_at": ago(300)},
        {"number": "1.0.0", "created_at": ago(2500)},
    ],
    "newgem": [{"number": "0.0.1", "created_at": ago(2)}],
}


@dataclass
class FakeRegistry:
    base: str
    requests: list[str] = field(default_factory=list)
    delay: float = 0.0

    def url(self, kind: str) -> str:
        return f"{self.base}/{kind}/"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: object, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def do_GET(self) -> None:
        reg = self.server.registry
        reg.requests.append(self.path)
        if reg.delay:
            time.sleep(reg.delay)
            with contextlib.suppress(OSError):
                self.send_response(504)
                self.end_headers()
            return
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
        if not parts:
            return self._send(404, {"error": "not found"})
        kind, rest = parts[0], parts[1:]
        try:
            self._route(kind, rest)
        except (KeyError, IndexError):
            self._send(404, {"error": "Not found"})

    def _route(self, kind: str, rest: list[str]) -> None:
        simple = "application/vnd.pypi.simple.v1+json"
        if kind == "pypi" and rest[0] == "simple":
            return self._send(200, PYPI[rest[1]], simple)
        if kind == "private" and rest[0] == "simple":
            return self._send(200, PRIVATE_PYPI[rest[1]], simple)
        if kind == "html" and rest[0] == "simple":
            name = rest[1]
            if name not in PRIVATE_PYPI:
                raise KeyError(name)
            page = f'<html><body><a href="x">{name.replace("-", "_")}-1.0.tar.gz</a></body></html>'
            return self._send(200, page.encode(), "text/html")
        if kind == "npm":
            name = "/".join(rest).replace("%2F", "/").replace("%2f", "/")
            return self._send(200, NPM[name])
        if kind == "crates" and rest[:3] == ["api", "v1", "crates"]:
            return self._send(200, CRATES[rest[3]])
        if kind == "go":
            at = rest.index("@v") if "@v" in rest else rest.index("@latest")
            module = "/".join(rest[:at])
            versions = GO[module]
            if rest[at] == "@latest":
                last = max(versions)
                return self._send(200, {"Version": last, "Time": versions[last]})
            leaf = rest[at + 1]
            if leaf == "list":
                return self._send(200, "\n".join(versions).encode(), "text/plain")
            v = leaf.removesuffix(".info")
            return self._send(200, {"Version": v, "Time": versions[v]})
        if kind == "gems" and rest[:2] == ["api", "v1"] and rest[2] == "versions":
            return self._send(200, GEMS[rest[3].removesuffix(".json")])
        raise KeyError(kind)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    registry: FakeRegistry


@contextmanager
def serve(delay: float = 0.0) -> Iterator[FakeRegistry]:
    server = _Server(("127.0.0.1", 0), _Handler)
    reg = FakeRegistry(f"http://127.0.0.1:{server.server_address[1]}", delay=delay)
    server.registry = reg
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield reg
    finally:
        server.shutdown()
        server.server_close()
