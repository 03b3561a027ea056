"""Model monitor: what lockgate itself adds to each second opinion, against a loopback server
that answers at once (so the figures are lockgate's share; a real model adds its own latency).

- the question's size for an item with 10 recent actions and 3 untrusted sources;
- one opinion: building the question, the request through the openai client, reading the
  answer (mean / p95 over distinct items);
- a cache hit for the same text;
- a held action (tainted session, policy would allow) from proposal to running, through the
  real pipeline.

Prints figures; asserts nothing. Run: .venv/bin/python bench/monitor.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.events import AgentEvent, Proposed, TurnEnded  # noqa: E402
from app.core.model import (  # noqa: E402
    Action,
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    Level,
    Result,
    ResultStatus,
)
from app.core.pipeline import Pipeline  # noqa: E402
from app.core.ports import SessionContext  # noqa: E402
from app.injection.monitor import Monitor, MonitorPolicy, MonitorSettings  # noqa: E402
from app.injection.monitor_prompt import Subject  # noqa: E402
from app.injection.taint import TaintSource, TaintTracker  # noqa: E402

ANSWER = json.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": '{"score": 4, "reason": "fine"}'},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 14, "total_tokens": 914},
    }
).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    sizes: ClassVar[list[int]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Handler.sizes.append(len(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)


class Risk:
    def assess(self, action: Action, context: SessionContext, batch: Sequence[Action] = ()) -> Any:
        return Assessment(score=0, level=Level.SAFE)


class Allow:
    def decide(self, action: Action, a: Assessment) -> Decision:
        return Decision(DecisionKind.ALLOW, "bench:allow")

    def remember(self, action: Action, verdict: Any) -> None:
        pass


class Commands:
    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    async def run(self, action: CommandAction, command: str, on_output: object) -> Result:
        self.started[action.id] = time.perf_counter()
        return Result(action.id, ResultStatus.COMPLETED, exit_code=0, ran=command)


class Link:
    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions
        self.done = asyncio.Event()

    async def _events(self) -> AsyncIterator[AgentEvent]:
        for a in self.actions:
            yield Proposed(a)
        yield TurnEnded(self.actions[0].turn_id)
        await self.done.wait()

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        self.done.set()

    async def cancel(self) -> None:
        self.done.set()


def ms(values: list[float]) -> str:
    p95 = sorted(values)[int(0.95 * (len(values) - 1))]
    return f"mean {statistics.mean(values):6.2f} ms  p95 {p95:6.2f} ms"


async def main(url: str, ws: Path) -> None:
    tracker = TaintTracker(ws)
    for i in range(3):
        tracker.mark(TaintSource(f"s{i}", "turn 1", "network", f"https://e{i}.example/p", 0.0))
    monitor = Monitor(
        MonitorSettings("bench", base_url=url, api_key_env="LOCKGATE_BENCH_KEY", task="Fix it."),
        tracker=tracker,
    )
    commands = Commands()
    policy = MonitorPolicy(Allow(), monitor, headless=False)
    pipeline = Pipeline(
        context=SessionContext(workspace=ws),
        risk=Risk(),
        policy=policy,
        commands=commands,
        patches=None,  # type: ignore[arg-type]  # no patches here
    )
    monitor.attach(pipeline)

    # warm-up (connection, imports)
    await monitor.wait(monitor.opinion(Subject("action", "warm-up", "shell command")))

    # a held action from proposal to running: the pipeline, the monitor, the release
    held: list[float] = []
    for i in range(60):
        actions: list[Action] = [CommandAction(f"pytest -q tests/test_{i}.py", f"t{i}")]
        link = Link(actions)
        t0 = time.perf_counter()
        await pipeline.run(link)
        held.append((commands.started[actions[0].id] - t0) * 1000)
    size = Handler.sizes[-1]

    lat: list[float] = []
    for i in range(200):
        t0 = time.perf_counter()
        await monitor.wait(monitor.opinion(Subject("action", f"make test-{i}", "shell command")))
        lat.append((time.perf_counter() - t0) * 1000)
    hits: list[float] = []
    for i in range(200):
        t0 = time.perf_counter()
        await monitor.wait(monitor.opinion(Subject("action", f"make test-{i}", "shell command")))
        hits.append((time.perf_counter() - t0) * 1000)

    print(f"question        {size} bytes with 10 recent actions and 3 untrusted sources")
    print(f"opinion         {ms(lat)}   (200 distinct items, loopback server answering at once)")
    print(f"cache hit       {ms(hits)}   (same text: no request)")
    print(f"held → running  {ms(held)}   (60 actions while tainted, through the pipeline)")
    print(monitor.summary())


if __name__ == "__main__":
    os.environ["LOCKGATE_BENCH_KEY"] = "bench-key-not-secret"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            asyncio.run(main(f"http://{host!s}:{port}/v1", Path(tmp)))
        finally:
            server.shutdown()
