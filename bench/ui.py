"""Console benchmarks: how fast the review UI shows what the agent proposes, and stays responsive.

Prints:
  - proposal → visible: from the agent link yielding a proposal to its queue row being painted
    (p50/p95 over a fast agent proposing every 10 ms; goal p95 < 50 ms)
  - 10,000-line diff: from selecting the patch to the diff's first lines being painted
    (goal < 300 ms)
  - key-press latency with 1,000 actions queued: from pressing `j` to the detail pane painting
    the next action (p50/p95; goal < 50 ms)
  - peak memory (max RSS; `--heap` adds the Python heap peak by tracemalloc, and slows the rest)

The app runs headless under Pilot, against the real Pipeline with instant fake executors, so
the figures are the console's own cost.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from rich.console import RenderableType
from textual import events
from textual.screen import Screen
from textual.strip import Strip

from app.core.events import AgentEvent, Proposed, TurnEnded
from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    Finding,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
)
from app.core.pipeline import Pipeline
from app.core.ports import OutputSink, PatchReview, SessionContext
from app.ui.app import LockgateApp
from app.ui.widgets.detail import DetailPane
from app.ui.widgets.diff_view import DiffView
from app.ui.widgets.queue import QueueList

SIZE = (160, 50)


class AskRisk:
    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        return Assessment.from_findings([Finding(Category.NETWORK, 40, "benchmark")])


class AskPolicy:
    def decide(self, action: Action, assessment: Assessment) -> Decision:
        return Decision(DecisionKind.ASK, rule="bench")

    def remember(self, action: Action, verdict: Verdict) -> None:
        pass


class InstantCommands:
    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        return Result(action.id, ResultStatus.COMPLETED, exit_code=0, ran=command)


class BigPatches:
    """Reviews every patch as a 10,000-line addition."""

    def __init__(self, lines: int) -> None:
        body = "".join(f"+    value_{i} = compute({i})  # line {i}\n" for i in range(lines))
        self.diff = f"--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,{lines} @@\n{body}"
        self.lines = lines

    def review(self, action: PatchAction) -> PatchReview:
        return PatchReview(
            action.id, ok=True, unified_diff=self.diff, files=(("big.py", self.lines, 0),)
        )

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        return Result(action.id, ResultStatus.COMPLETED)

    async def undo_last(self) -> Result:
        return Result("", ResultStatus.FAILED, message="nothing")


class TimedLink:
    """Proposes on demand and records when each proposal left the link."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        self.sent: dict[str, float] = {}

    async def _iter(self) -> AsyncIterator[AgentEvent]:
        while (event := await self.queue.get()) is not None:
            if isinstance(event, Proposed):
                self.sent[event.action.id] = time.perf_counter()
            yield event
            if isinstance(event, TurnEnded):
                await asyncio.Event().wait()  # the benchmark never answers

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._iter()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        pass

    async def cancel(self) -> None:
        self.queue.put_nowait(None)


class Session:
    def __init__(self, workspace: Path, lines: int) -> None:
        self.workspace = workspace
        self.pipeline = Pipeline(
            context=SessionContext(workspace=workspace),
            risk=AskRisk(),
            policy=AskPolicy(),
            commands=InstantCommands(),
            patches=BigPatches(lines),
        )
        self.sandbox_status = {"summary": "bench", "network": "off", "degraded": []}
        self.session_id = "bench"
        self.notices: tuple[str, ...] = ()
        self.taint = None  # no untrusted-content tracking, no model monitor: the UI alone
        self.monitor = None


async def _until(
    predicate: Callable[[], bool], what: str, step: float = 0.0005, timeout: float = 30
) -> None:
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise SystemExit(f"bench/ui.py: timed out waiting for {what}")
        await asyncio.sleep(step)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def bench_proposals(workspace: Path, count: int = 300, gap_s: float = 0.01) -> list[float]:
    session = Session(workspace, 10)
    link = TimedLink()
    painted: dict[str, float] = {}
    original = QueueList.render_line

    def render_line(self: QueueList, y: int) -> Strip:
        strip = original(self, y)
        index = int(self.scroll_y) + y
        if index >= len(self.rows):
            return strip
        action_id = self.rows[index].info.action_id
        if action_id is not None and action_id not in painted:
            painted[action_id] = time.perf_counter()
        return strip

    QueueList.render_line = render_line  # type: ignore[method-assign]
    try:
        app = LockgateApp(session, link, watch_files=False, snapshot_workspace=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.1)
            for i in range(count):
                action = CommandAction(f"curl https://example.com/{i}", turn_id="t1", id=f"cmd-{i}")
                link.queue.put_nowait(Proposed(action))
                await asyncio.sleep(gap_s)
                # Keep the newest rows on screen, as a reviewer watching the agent would.
                app.screen.query_one(QueueList).scroll_end(animate=False, immediate=True)
            await pilot.pause(0.3)
    finally:
        QueueList.render_line = original  # type: ignore[method-assign]
    return [(painted[a] - t) * 1000 for a, t in link.sent.items() if a in painted]


async def bench_big_diff(workspace: Path, lines: int = 10_000) -> float:
    session = Session(workspace, lines)
    link = TimedLink()
    first_paint: list[float] = []
    original = DiffView.render_line

    def render_line(self: DiffView, y: int) -> Strip:
        strip = original(self, y)
        if self.rows and not first_paint:
            first_paint.append(time.perf_counter())
        return strip

    DiffView.render_line = render_line  # type: ignore[method-assign,assignment]
    try:
        app = LockgateApp(session, link, watch_files=False, snapshot_workspace=False)
        async with app.run_test(size=SIZE) as pilot:
            link.queue.put_nowait(Proposed(CommandAction("ls", turn_id="t1", id="cmd-0")))
            link.queue.put_nowait(Proposed(PatchAction("big", turn_id="t1", id="patch-big")))
            await pilot.pause(0.3)
            queue = app.screen.query_one(QueueList)
            index = queue.index_of("patch-big")
            assert index is not None
            first_paint.clear()
            start = time.perf_counter()
            queue.highlighted = index
            await _until(lambda: bool(first_paint), "the diff being painted")
            return (first_paint[0] - start) * 1000
    finally:
        DiffView.render_line = original  # type: ignore[method-assign]


async def bench_keys(workspace: Path, count: int = 1000, presses: int = 60) -> list[float]:
    """Key event in, the frame that shows the next action out (not Pilot's own idle waits)."""
    session = Session(workspace, 10)
    link = TimedLink()
    app = LockgateApp(session, link, watch_files=False, snapshot_workspace=False)
    latencies: list[float] = []
    frames: list[tuple[float, str | None]] = []  # (when, the action the detail pane showed)
    original = app._display

    def display(screen: Screen[object], renderable: RenderableType | None) -> None:
        original(screen, renderable)
        shown = screen.query_one(DetailPane).shown_id if screen.query(DetailPane) else None
        frames.append((time.perf_counter(), shown))

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        for i in range(count):
            link.queue.put_nowait(
                Proposed(
                    CommandAction(f"curl https://example.com/{i}", turn_id="t1", id=f"cmd-{i}")
                )
            )
        queue = app.screen.query_one(QueueList)
        await _until(lambda: len(queue.rows) >= count + 1, "the queue filling", step=0.05)
        await pilot.pause(0.2)
        for _ in range(presses):
            below = (queue.highlighted or 0) + 1
            expected = queue.rows[below].info.action_id
            start = time.perf_counter()
            app.post_message(events.Key("j", "j"))

            def painted(start: float = start, expected: str | None = expected) -> bool:
                return any(t >= start and shown == expected for t, shown in frames[-5:])

            await _until(painted, "a frame showing the next action")
            when = next(t for t, shown in frames if shown == expected and t >= start)
            latencies.append((when - start) * 1000)
            await asyncio.sleep(0.03)  # a human does not press faster than this
    return latencies


async def main() -> None:
    heap = "--heap" in sys.argv  # tracemalloc slows everything ~3x: figures then mean nothing
    if heap:
        tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-") as tmp:
        ws = Path(tmp)
        proposals = await bench_proposals(ws)
        diff_ms = await bench_big_diff(ws)
        keys = await bench_keys(ws)
    _, peak = tracemalloc.get_traced_memory()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"proposal → visible: p50 {statistics.median(proposals):.1f} ms, "
        f"p95 {pct(proposals, 95):.1f} ms over {len(proposals)} proposals (goal p95 < 50 ms)"
    )
    print(f"10,000-line diff first paint: {diff_ms:.1f} ms (goal < 300 ms)")
    print(
        f"key press with 1,000 actions queued: p50 {statistics.median(keys):.1f} ms, "
        f"p95 {pct(keys, 95):.1f} ms (goal < 50 ms)"
    )
    if heap:
        print(f"peak Python heap (tracemalloc): {peak / 1e6:.1f} MB")
    print(
        f"peak memory: max RSS {rss_kb / 1024:.1f} MB (1,000 actions and a 10,000-line diff held)"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
