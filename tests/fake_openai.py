"""A fake OpenAI server: a real HTTP server on loopback, speaking `/v1/responses` and
`/v1/chat/completions` with server-sent events, scripted per test, recording every request body.

Why a real server: the openai SDK is built on httpx2, which respx cannot intercept, and a real
socket is the only way to exercise the SDK's own error mapping, headers and streaming exactly as
they run against the real service.

A test queues replies (`server.reply(...)`); each request to either endpoint takes the next one.
A request with no reply queued gets a 500 and is recorded, so a test that under-scripts fails
loudly instead of hanging.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class SSE:
    """A streamed reply: `frames` are (event name or None, data text) pairs.

    `cut` ends the stream early: "eof" closes the connection cleanly after the frames (the body
    just stops), "abort" drops it mid-chunk (the client sees a broken transfer). `hold` is an
    event the handler waits on after the frames (up to 10 s) before finishing, for cancel tests.
    """

    frames: tuple[tuple[str | None, str], ...]
    cut: str | None = None
    hold: threading.Event | None = None


@dataclass(frozen=True)
class Status:
    """A non-streamed error (or plain JSON) reply. `hold` is an event the handler waits on (up
    to 10 s) before answering, for timeout tests."""

    code: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    hold: threading.Event | None = None


Reply = SSE | Status


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


# --------------------------------------------------------------------------- builders


def error_body(
    message: str, code: str | None = None, type_: str = "invalid_request_error"
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, "param": None}}


def responses_stream(
    items: Sequence[dict[str, Any]],
    *,
    response_id: str = "resp_1",
    text: str = "",
    reasoning: str = "",
    terminal: str = "response.completed",
    extra_events: Sequence[dict[str, Any]] = (),
    cut: str | None = None,
    cut_after_items: int | None = None,
    hold: threading.Event | None = None,
) -> SSE:
    """The event sequence the Responses API streams for one response.

    `reasoning` becomes a reasoning item with a streamed summary, `text` an assistant message
    streamed in small deltas; `items` (tool calls, given as their final JSON) follow. With
    `cut_after_items=n` the stream stops after the n-th item is done and no terminal event is sent.
    """
    events: list[dict[str, Any]] = []
    resp: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "status": "in_progress",
        "output": [],
    }
    events.append({"type": "response.created", "response": dict(resp)})
    events.append({"type": "response.in_progress", "response": dict(resp)})
    output: list[dict[str, Any]] = []
    index = 0
    if reasoning:
        item = {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": reasoning}],
        }
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "summary": []},
            }
        )
        events.append(
            {
                "type": "response.reasoning_summary_part.added",
                "output_index": index,
                "item_id": "rs_1",
                "summary_index": 0,
                "part": {"type": "summary_text", "text": ""},
            }
        )
        for chunk in _chunks(reasoning):
            events.append(
                {
                    "type": "response.reasoning_summary_text.delta",
                    "output_index": index,
                    "item_id": "rs_1",
                    "summary_index": 0,
                    "delta": chunk,
                }
            )
        events.append(
            {
                "type": "response.reasoning_summary_text.done",
                "output_index": index,
                "item_id": "rs_1",
                "summary_index": 0,
                "text": reasoning,
            }
        )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
        output.append(item)
        index += 1
    if text:
        item = {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "content": [], "status": "in_progress"},
            }
        )
        for chunk in _chunks(text):
            events.append(
                {
                    "type": "response.output_text.delta",
                    "output_index": index,
                    "item_id": "msg_1",
                    "content_index": 0,
                    "delta": chunk,
                }
            )
        events.append(
            {
                "type": "response.output_text.done",
                "output_index": index,
                "item_id": "msg_1",
                "content_index": 0,
                "text": text,
            }
        )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
        output.append(item)
        index += 1
    events.extend(extra_events)
    for n, item in enumerate(items, start=1):
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "status": "in_progress"},
            }
        )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
        output.append(item)
        index += 1
        if cut_after_items is not None and n >= cut_after_items:
            return _as_sse(events, cut or "eof", hold)
    final = {
        **resp,
        "status": "completed" if terminal == "response.completed" else "incomplete",
        "output": output,
    }
    if terminal == "response.incomplete":
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    if terminal == "response.failed":
        final["status"] = "failed"
        final["error"] = {"code": "server_error", "message": "The model failed to finish."}
    if terminal:
        events.append({"type": terminal, "response": final})
    return _as_sse(events, cut, hold)


def _as_sse(events: list[dict[str, Any]], cut: str | None, hold: threading.Event | None) -> SSE:
    frames: list[tuple[str | None, str]] = []
    for seq, ev in enumerate(events):
        frames.append((ev["type"], json.dumps({**ev, "sequence_number": seq})))
    return SSE(tuple(frames), cut=cut, hold=hold)


def _chunks(text: str, size: int = 7) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def shell_call(
    call_id: str,
    *commands: str,
    timeout_ms: int | None = None,
    max_output_length: int | None = None,
) -> dict[str, Any]:
    return {
        "type": "shell_call",
        "id": f"sh_{call_id}",
        "call_id": call_id,
        "status": "completed",
        "action": {
            "commands": list(commands),
            "timeout_ms": timeout_ms,
            "max_output_length": max_output_length,
        },
    }


def apply_patch_call(call_id: str, op: str, path: str, diff: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"type": op, "path": path}
    if diff is not None:
        operation["diff"] = diff
    return {
        "type": "apply_patch_call",
        "id": f"ap_{call_id}",
        "call_id": call_id,
        "status": "completed",
        "operation": operation,
    }


def chat_stream(
    *,
    content: str = "",
    tool_calls: Sequence[tuple[str, str, str]] = (),
    finish_reason: str | None = None,
    cut: str | None = None,
    cut_after_chunks: int | None = None,
    split: int = 9,
    hold: threading.Event | None = None,
    done: bool = True,
) -> SSE:
    """Chat Completions chunks: content deltas, then each tool call (id, name, arguments) with its
    arguments split into `split`-character deltas, accumulated by `index` on the client side."""
    chunks: list[dict[str, Any]] = []

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    chunks.append(chunk({"role": "assistant", "content": ""}))
    for piece in _chunks(content, split):
        chunks.append(chunk({"content": piece}))
    for index, (call_id, name, args) in enumerate(tool_calls):
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in _chunks(args, split):
            chunks.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    reason = finish_reason or ("tool_calls" if tool_calls else "stop")
    chunks.append(chunk({}, reason))
    if cut_after_chunks is not None:
        chunks = chunks[:cut_after_chunks]
        done = False
        cut = cut or "eof"
    frames: list[tuple[str | None, str]] = [(None, json.dumps(c)) for c in chunks]
    if done:
        frames.append((None, "[DONE]"))
    return SSE(tuple(frames), cut=cut, hold=hold)


def chat_completion(content: str, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> Status:
    """A non-streamed Chat Completions answer (what the model monitor asks for)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Status(200, body)


# --------------------------------------------------------------------------- the server


class FakeOpenAI:
    """`with FakeOpenAI() as server:` — `server.base_url` is `http://127.0.0.1:PORT/v1`."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                with owner._lock:
                    owner.requests.append(
                        Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = owner._replies.popleft() if owner._replies else None
                if self.path not in ("/v1/responses", "/v1/chat/completions"):
                    reply = Status(404, error_body(f"no route {self.path}", "not_found"))
                if reply is None:
                    reply = Status(
                        500, error_body("fake server: no reply scripted", type_="server_error")
                    )
                if isinstance(reply, Status):
                    self._status(reply)
                else:
                    self._stream(reply)

            def _status(self, reply: Status) -> None:
                if reply.hold is not None:
                    reply.hold.wait(10)
                data = json.dumps(reply.body).encode()
                self.send_response(reply.code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: SSE) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                chunked = reply.cut != "eof"
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for event, data in reply.frames:
                        frame = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
                        self._write(frame.encode(), chunked)
                    if reply.hold is not None:
                        reply.hold.wait(10)
                    if reply.cut == "abort":
                        # Half a chunk, then a hard close: a broken transfer on the client side.
                        self.wfile.write(b'40\r\ndata: {"type": "resp')
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    if not chunked:
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _write(self, data: bytes, chunked: bool) -> None:
                if chunked:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                else:
                    self.wfile.write(data)
                self.wfile.flush()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that hangs up mid-stream is part of the tests

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def reply(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def free_port() -> int:
    """A loopback port nothing listens on (for connection-refused tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
