"""A fake Anthropic Messages API on loopback, enough to drive Claude Code itself offline.

It speaks `POST /v1/messages` (Claude Code adds `?beta=true`) with `stream: true` as
server-sent events (`message_start`, `content_block_start|delta|stop` with `text_delta` or
`input_json_delta`, `message_delta`, `message_stop`) and without streaming as one JSON message.
Requests are read loosely: Claude Code sends fields the public API does not document (a system
message inside `messages`, thinking, context_management …) and they are kept, never checked.

Scripting: the requests of the agent loop (those that offer tools) take the queued turns in
order; Claude Code's side requests (titles, summaries, quota checks: no tools offered) get a
short text. A loop request with nothing queued gets an `end_turn` text, so a run ends instead of
hanging. Every request body is recorded.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str = ""


@dataclass(frozen=True)
class Turn:
    """One assistant message: optional text, then tool calls (stop_reason tool_use)."""

    text: str = ""
    tools: tuple[ToolUse, ...] = ()


@dataclass
class FakeAnthropic:
    turns: deque[Turn] = field(default_factory=deque)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    _n: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                fake.record(self.path, body)
                if "count_tokens" in self.path:
                    return self._json({"input_tokens": 100})
                if not self.path.split("?")[0].endswith("/v1/messages"):
                    return self._json({})
                message = fake.next_message(body)
                if body.get("stream"):
                    return self._stream(message)
                return self._json(message)

            def _json(self, obj: dict[str, Any]) -> None:
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, message: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for name, data in sse_events(message):
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ scripting

    def reply(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    def record(self, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.paths.append(path)
            self.bodies.append(body)

    def loop_bodies(self) -> list[dict[str, Any]]:
        """The agent loop's requests (tools offered), in order."""
        with self._lock:
            return [b for b in self.bodies if b.get("tools")]

    def next_message(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._n += 1
            n = self._n
            if body.get("tools"):
                turn = self.turns.popleft() if self.turns else Turn(text="All done.")
            else:
                turn = Turn(text="Fake title")
        content: list[dict[str, Any]] = []
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for i, tool in enumerate(turn.tools):
            content.append(
                {
                    "type": "tool_use",
                    "id": tool.id or f"toolu_{n:04d}_{i}",
                    "name": tool.name,
                    "input": tool.input,
                }
            )
        return {
            "id": f"msg_{n:04d}",
            "type": "message",
            "role": "assistant",
            "model": str(body.get("model") or "claude-fake"),
            "content": content,
            "stop_reason": "tool_use" if turn.tools else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 50, "output_tokens": 20},
        }


def sse_events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """A message as the Messages API streams it; tool input arrives as JSON text in pieces."""
    head = {**message, "content": [], "stop_reason": None}
    yield "message_start", {"type": "message_start", "message": head}
    for i, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "text_delta", "text": block["text"]},
                },
            )
        else:
            start = {**block, "input": {}}
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": start,
                },
            )
            text = json.dumps(block["input"])
            for k in range(0, len(text), 40):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": text[k : k + 40]},
                    },
                )
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": 20},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a request's last user message."""
    for msg in reversed(body.get("messages", [])):
        if msg.get("role") != "user" or not isinstance(msg.get("content"), list):
            continue
        found = [
            b for b in msg["content"] if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        if found:
            return found
    return []


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return ""
