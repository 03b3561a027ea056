"""A fake Gemini API (generativelanguage v1beta) on loopback, enough to drive Gemini CLI offline.

`:streamGenerateContent?alt=sse` answers with `data: {GenerateContentResponse}` frames;
`:generateContent` with one JSON response; `:countTokens` with a count. Requests that offer
function declarations (the agent loop) take the queued turns in order; Gemini CLI's side calls
(JSON-schema checks such as "who speaks next") get `{"next_speaker": "user", …}`, which ends a
turn instead of looping. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class GTurn:
    text: str = ""
    calls: tuple[Call, ...] = ()


@dataclass
class FakeGemini:
    turns: deque[GTurn] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, *turns: GTurn) -> None:
        self.turns.extend(turns)

    def __enter__(self) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._json({"models": []})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                with fake._lock:
                    fake.requests.append((self.path, body))
                path = self.path.split("?")[0]
                if path.endswith(":countTokens"):
                    return self._json({"totalTokens": 100})
                response = fake.respond(body)
                if path.endswith(":streamGenerateContent"):
                    data = f"data: {json.dumps(response)}\r\n\r\n".encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return None
                return self._json(response)

            def _json(self, obj: dict[str, Any]) -> None:
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def respond(self, body: dict[str, Any]) -> dict[str, Any]:
        offers_tools = any(t.get("functionDeclarations") for t in body.get("tools") or [])
        config = body.get("generationConfig") or {}
        if offers_tools:
            with self._lock:
                turn = self.turns.popleft() if self.turns else GTurn(text="All done.")
            parts: list[dict[str, Any]] = []
            if turn.text:
                parts.append({"text": turn.text})
            parts += [{"functionCall": {"name": c.name, "args": c.args}} for c in turn.calls]
        elif config.get("responseMimeType") == "application/json":
            parts = [{"text": json.dumps({"next_speaker": "user", "reasoning": "done"})}]
        else:
            parts = [{"text": "ok"}]
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 10,
                "candidatesTokenCount": 5,
                "totalTokenCount": 15,
            },
            "modelVersion": "gemini-2.5-flash",
        }

    def function_responses(self) -> dict[str, dict[str, Any]]:
        """name → the last functionResponse Gemini CLI sent back for that function."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            bodies = [b for _, b in self.requests]
        for body in bodies:
            for content in body.get("contents") or []:
                for part in content.get("parts") or []:
                    fr = part.get("functionResponse")
                    if isinstance(fr, dict):
                        out[str(fr.get("name"))] = fr
        return out
