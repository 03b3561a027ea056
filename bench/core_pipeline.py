"""Review core overhead: audit appends (with and without fsync), the pipeline's own cost per
action (no-op executor, with and without the audit log), verifying and recovering a long log.

Prints figures; asserts nothing. Run: .venv/bin/python bench/core_pipeline.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.audit import AuditLog  # noqa: E402
from app.core.events import AgentEvent, Proposed, TurnEnded  # noqa: E402
from app.core.model import (  # noqa: E402
    Action,
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    Level,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
)
from app.core.pipeline import Pipeline  # noqa: E402
from app.core.ports import OutputSink, PatchReview, SessionContext  # noqa: E402
from app.core.resume import recover  # noqa: E402
from app.core.verify import verify_log  # noqa: E402


class Safe:
    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        return Assessment(score=0, level=Level.SAFE)


class Allow:
    def decide(self, action: Action, assessment: Assessment) -> Decision:
        return Decision(DecisionKind.ALLOW, "bench")

    def remember(self, action: Action, verdict: Verdict) -> None:
        pass


class NoOp:
    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        on_output("stdout", b"ok\n")
        return Result(
            action.id, ResultStatus.COMPLETED, exit_code=0, stdout=b"ok\n", stdout_total=3
        )


class NoPatches:
    def review(self, action: PatchAction) -> PatchReview:
        return PatchReview(action.id, ok=False, unified_diff="", error="bench")

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        raise RuntimeError

    async def undo_last(self) -> Result:
        raise RuntimeError


class Link:
    def __init__(self, turns: int, per_turn: int) -> None:
        self.turns, self.per_turn = turns, per_turn
        self._got = asyncio.Event()

    async def _events(self) -> AsyncIterator[AgentEvent]:
        for t in range(self.turns):
            for i in range(self.per_turn):
                yield Proposed(CommandAction(command=f"echo {t} {i}", turn_id=f"t{t}"))
            self._got.clear()
            yield TurnEnded(f"t{t}")
            await self._got.wait()

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        self._got.set()

    async def cancel(self) -> None:
        pass


def bench_audit(d: Path) -> None:
    for sync in (True, False):
        log = AuditLog(d / f"audit-{sync}.jsonl", redact_env=False)
        n = 300 if sync else 5000
        t = time.perf_counter()
        for i in range(n):
            log.write("note", {"i": i, "text": "x" * 200}, sync=sync)
        dt = (time.perf_counter() - t) / n
        log.close()
        print(f"audit append {'with fsync' if sync else 'no fsync  '}: {dt * 1e6:8.0f} µs/record")


def bench_pipeline(d: Path, with_audit: bool) -> Path | None:
    audit = AuditLog(d / "pipe.jsonl", redact_env=False) if with_audit else None
    p = Pipeline(
        context=SessionContext(workspace=d),
        risk=Safe(),
        policy=Allow(),
        commands=NoOp(),
        patches=NoPatches(),
        audit=audit,
    )
    turns, per = (20, 10) if with_audit else (100, 20)
    t = time.perf_counter()
    asyncio.run(p.run(Link(turns, per)))
    dt = (time.perf_counter() - t) / (turns * per)
    label = "with audit (2 fsyncs/action)" if with_audit else "no audit                   "
    print(f"pipeline per auto-approved action, {label}: {dt * 1e6:8.0f} µs")
    if audit is not None:
        audit.close()
        return audit.path
    return None


def bench_verify(d: Path) -> None:
    path = d / "long.jsonl"
    log = AuditLog(path, redact_env=False)
    for i in range(20000):
        log.write("note", {"i": i, "text": "x" * 200}, sync=False)
    log.close()
    t = time.perf_counter()
    r = verify_log(path)
    dt = time.perf_counter() - t
    print(f"verify: {r.records} records in {dt * 1e3:.0f} ms ({r.records / dt:,.0f} records/s)")


def bench_recover(path: Path) -> None:
    t = time.perf_counter()
    rec = recover(path)
    dt = time.perf_counter() - t
    n = sum(len(t.actions) for t in rec.turns)
    print(f"recover: {n} actions ({sum(1 for _ in path.open())} records) in {dt * 1e3:.0f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        d = Path(tmp)
        bench_audit(d)
        bench_pipeline(d, with_audit=False)
        path = bench_pipeline(d, with_audit=True)
        bench_verify(d)
        if path is not None:
            bench_recover(path)


if __name__ == "__main__":
    main()
