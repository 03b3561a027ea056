"""ACP link benchmarks: how fast an ACP agent's streamed words reach the reviewer's screen.

Prints:
  - update → screen: from the agent writing an `agent_message_chunk` (a timestamp in the text,
    CLOCK_MONOTONIC, the same clock in both processes) to the console rendering the agent pane
    with it; p50/p95/max over 300 chunks, one every 10 ms (goal p95 < 50 ms)
    and, apart, from written to seen by the pipeline's observers (the link's own share)
  - flood: 10,000 chunks written as fast as the agent can; how long the console took to show
    the last one after it was written (its lag: the console must not fall behind), the chunks
    per second it took in, and update → screen p95 during the flood

The agent is a real child process speaking ACP through the official SDK (`--jailed` runs it in
the jail on an overlay, as `lockgate acp` does by default); the console runs headless under
Pilot against a real session (`open_acp`), so the figures are the link's and the console's own.

    python bench/acp_console.py [--jailed] [--chunks N]
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARK = re.compile(r"@(\d+);")


# --------------------------------------------------------------------------- the agent side


def agent_main(mode: str, count: int, gap_ms: float) -> None:
    from typing import Any

    from acp import (
        PROTOCOL_VERSION,
        Agent,
        InitializeResponse,
        NewSessionResponse,
        PromptResponse,
        run_agent,
        update_agent_message_text,
    )
    from acp.schema import AgentCapabilities

    class Streamer(Agent):
        conn: Any = None

        def on_connect(self, conn: Any) -> None:
            self.conn = conn

        async def initialize(
            self,
            protocol_version: int,
            client_capabilities: Any = None,
            client_info: Any = None,
            **kw: Any,
        ) -> InitializeResponse:
            return InitializeResponse(
                protocol_version=PROTOCOL_VERSION, agent_capabilities=AgentCapabilities()
            )

        async def new_session(
            self,
            cwd: str,
            additional_directories: Any = None,
            mcp_servers: Any = None,
            **kw: Any,
        ) -> NewSessionResponse:
            return NewSessionResponse(session_id="bench")

        async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> PromptResponse:
            for i in range(count):
                text = f"@{time.monotonic_ns()}; chunk {i}\n" if mode == "timed" or (
                    i % 100 == 0 or i == count - 1
                ) else f"chunk {i} "  # fmt: skip
                await self.conn.session_update(
                    session_id="bench", update=update_agent_message_text(text)
                )
                if gap_ms:
                    await asyncio.sleep(gap_ms / 1000)
            return PromptResponse(stop_reason="end_turn")

    # a bench agent answers only what the console asks (initialize, new session, prompt)
    asyncio.run(run_agent(Streamer()))  # type: ignore[abstract]


# --------------------------------------------------------------------------- the console side


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(ws: Path, mode: str, count: int, gap_ms: float, jailed: bool) -> list[float]:
    """Latencies (ms) of every timestamped chunk, from written to rendered."""
    from textual.widgets import Static

    from app.cli.acp_cmd import open_acp
    from app.ui.app import LockgateApp
    from app.ui.screens.main import MainScreen

    seen: set[int] = set()
    latencies: list[float] = []
    original = Static.render

    def render(self: Static) -> object:
        out = original(self)
        if self.id == "agent-text":
            now = time.monotonic_ns()
            for m in MARK.finditer(str(self.content)):
                stamp = int(m.group(1))
                if stamp not in seen:
                    seen.add(stamp)
                    latencies.append((now - stamp) / 1e6)
        return out

    Static.render = render  # type: ignore[method-assign,assignment]
    argv = [sys.executable, __file__, "--agent", mode, str(count), str(gap_ms)]
    run = open_acp(ws, argv, prompt="stream", unjailed=not jailed)
    try:
        app = LockgateApp(run.view, run.link, watch_files=False)
        async with app.run_test(size=(160, 50)) as pilot:
            end = time.monotonic() + 120
            while run.link.stop_reason is None and time.monotonic() < end:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            assert isinstance(app.screen, MainScreen)
    finally:
        Static.render = original  # type: ignore[method-assign]
        run.close()
    return latencies


async def measure_link(ws: Path, count: int, gap_ms: float, jailed: bool) -> list[float]:
    """Latencies (ms) from written by the agent to seen by the pipeline's observers (what the
    console's bridge receives): the link's own share, without the screen."""
    import io

    from app.cli.acp_cmd import open_acp
    from app.cli.run_cmd import run_headless
    from app.core.events import AgentEventSeen, AgentText, PipelineEvent

    latencies: list[float] = []

    class Stamp:
        def notify(self, event: PipelineEvent) -> None:
            if isinstance(event, AgentEventSeen) and isinstance(event.event, AgentText):
                now = time.monotonic_ns()
                for m in MARK.finditer(event.event.text):
                    latencies.append((now - int(m.group(1))) / 1e6)

    argv = [sys.executable, __file__, "--agent", "timed", str(count), str(gap_ms)]
    run = open_acp(ws, argv, prompt="stream", unjailed=not jailed, headless=True)
    try:
        run.session.pipeline.add_observer(Stamp())
        await run_headless(run.session.pipeline, run.link, out=io.StringIO())
    finally:
        run.close()
    return latencies


def workspace(base: Path) -> Path:
    ws = base / "ws"
    ws.mkdir(parents=True)
    (ws / "README.md").write_text("bench\n")
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    return ws


async def main(jailed: bool, chunks: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-acp-") as tmp:
        os.environ.setdefault("LOCKGATE_CONFIG_DIR", str(Path(tmp) / "config"))
        os.environ.setdefault("LOCKGATE_DATA_DIR", str(Path(tmp) / "data"))
        where = "jailed" if jailed else "unjailed"
        timed = await measure(workspace(Path(tmp) / "a"), "timed", 300, 10, jailed)
        print(f"update → screen ({where}, 300 chunks every 10 ms): "
              f"p50 {pct(timed, 50):.1f} ms, p95 {pct(timed, 95):.1f} ms, "
              f"max {max(timed, default=float('nan')):.1f} ms  (goal p95 < 50 ms; "
              f"{len(timed)}/300 seen)")  # fmt: skip
        link = await measure_link(workspace(Path(tmp) / "c"), 300, 10, jailed)
        print(f"  of which agent → pipeline observers (the link's share): "
              f"p50 {pct(link, 50):.1f} ms, p95 {pct(link, 95):.1f} ms")  # fmt: skip
        started = time.monotonic_ns()
        flood = await measure(workspace(Path(tmp) / "b"), "flood", chunks, 0, jailed)
        total_s = (time.monotonic_ns() - started) / 1e9
        lag = flood[-1] if flood else float("nan")
        print(f"flood ({where}, {chunks:,} chunks at full speed): last chunk on screen "
              f"{lag:.1f} ms after it was written; {chunks / total_s:,.0f} chunks/s end to end "
              f"(incl. start and stop); update → screen p95 {pct(flood, 95):.1f} ms over "
              f"{len(flood)} sampled chunks")  # fmt: skip
        print(f"  median of sampled flood latencies {statistics.median(flood):.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--agent":
        agent_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        root = Path(__file__).resolve().parents[1]
        sys.path.insert(0, str(root))
        n = 10_000
        if "--chunks" in sys.argv:
            n = int(sys.argv[sys.argv.index("--chunks") + 1])
        asyncio.run(main("--jailed" in sys.argv, n))
