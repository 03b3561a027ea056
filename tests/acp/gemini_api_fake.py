"""A fake Gemini API server: a real HTTP server on loopback speaking the Generative Language API's
`models/{model}:streamGenerateContent?alt=sse` and `:generateContent` (and answering
`:countTokens`), scripted per test, recording every request.

Each generate request takes the next queued reply: a list of parts (`text(...)`,
`function_call(...)`) returned as one candidate. A request with no reply queued gets a 500 and is
recorded, so an under-scripted test fails loudly instead of hanging.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Part = dict[str, Any]


def text(value: str) -> Part:
    return {"text": value}


def function_call(name: str, args: dict[str, Any]) -> Part:
    return {"functionCall": {"name": name, "args": args}}


@dataclass(frozen=True)
class Recorded:
    path: str
    body: dict[str, Any]


def _response(parts: Sequence[Part]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": list(parts)}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash",
    }


class FakeGemini:
    """`FakeGemini(tls=ctx)` serves HTTPS (an agent behind lockgate's proxy reaches a host only
    through a CONNECT tunnel, which must carry TLS)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        self._replies: deque[list[Part]] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                fake._record(self.path, {})
                self._send(200, b'{"models": []}', "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                fake._record(self.path, body)
                if ":countTokens" in self.path:
                    self._send(200, b'{"totalTokens": 10}', "application/json")
                    return
                parts = fake._next()
                if parts is None:
                    error = {
                        "error": {"code": 500, "message": "no reply scripted", "status": "INTERNAL"}
                    }
                    self._send(500, json.dumps(error).encode(), "application/json")
                    return
                payload = json.dumps(_response(parts))
                if ":streamGenerateContent" in self.path:
                    self._send(200, f"data: {payload}\r\n\r\n".encode(), "text/event-stream")
                else:
                    self._send(200, payload.encode(), "application/json")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _record(self, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(Recorded(path, body))

    def _next(self) -> list[Part] | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    @property
    def base_url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def reply(self, *replies: Sequence[Part]) -> None:
        with self._lock:
            self._replies.extend(list(r) for r in replies)

    def __enter__(self) -> FakeGemini:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
