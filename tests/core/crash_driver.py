"""A small lockgate session for the crash tests: run it, SIGKILL it, run it again with `resume`.

    python crash_driver.py WORKSPACE run      # a scripted agent, a human who answers everything
    python crash_driver.py WORKSPACE resume   # take over the killed session, finish its work

Env: CRASH_AFTER=N kills this process with SIGKILL right after its N-th audit record is on disk;
SLOW=1 makes one command block (writing WORKSPACE/running first) so a test can kill it from
outside. Commands really do work: each appends `start ID TEXT` / `end ID` to WORKSPACE/ran.log
(fsynced), so the test can see what ran and how often, whatever the audit log claims.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from corefakes import FakePolicy, FakeRisk, FilePatches, ScriptedLink

from app.core.audit import AuditLog
from app.core.events import ActionStateChanged, PipelineEvent
from app.core.model import (
    Action,
    CommandAction,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.pipeline import ActionState, Pipeline
from app.core.ports import OutputSink, SessionContext
from app.core.resume import Journal, begin, find_resumable, seed


def _append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class LoggingCommands:
    def __init__(self, workspace: Path) -> None:
        self.ws = workspace

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        _append(self.ws / "ran.log", f"start {action.id} {command}")
        if "slow" in command and os.environ.get("SLOW") == "1":
            (self.ws / "running").write_text(action.id)
            await asyncio.sleep(60)
        _append(self.ws / "ran.log", f"end {action.id}")
        on_output("stdout", command.encode())
        return Result(
            action.id, ResultStatus.COMPLETED, exit_code=0, stdout_total=len(command), ran=command
        )


class LoggingPatches(FilePatches):
    async def apply(self, action: PatchAction, review: Any) -> Result:
        _append(self.workspace / "ran.log", f"start {action.id} patch")
        r = await super().apply(action, review)
        _append(self.workspace / "ran.log", f"end {action.id}")
        return r


def crash_after(audit: AuditLog, n: int) -> None:
    real = audit.write
    count = 0

    def write(kind: str, data: Any, *, sync: bool = True) -> dict[str, Any]:
        nonlocal count
        rec = real(kind, data, sync=sync)
        count += 1
        if count >= n:
            os.kill(os.getpid(), signal.SIGKILL)
        return rec

    audit.write = write  # type: ignore[method-assign]


class Human:
    """Answers every waiting action soon after it appears: denies what says 'deny', approves
    the rest (editing what says 'edit')."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
            asyncio.get_running_loop().call_later(0.001, self.answer, event.action_id)

    def answer(self, action_id: str) -> None:
        view = self.p.view(action_id)
        if view.state is not ActionState.WAITING:
            return
        text = view.action.reviewed_text
        if "deny" in text:
            v = Verdict(action_id, VerdictKind.DENY, feedback="no")
        elif "edit" in text and isinstance(view.action, CommandAction):
            v = Verdict(action_id, VerdictKind.EDIT, edited=f"{text} (edited)")
        else:
            v = Verdict(action_id, VerdictKind.APPROVE, key="y")
        self.p.submit_verdict(v)


def build(ws: Path, journal: Journal) -> Pipeline:
    p = Pipeline(
        context=SessionContext(workspace=ws),
        risk=FakeRisk(),
        policy=FakePolicy(),
        commands=LoggingCommands(ws),
        patches=LoggingPatches(ws),
        audit=journal.audit,
    )
    p.add_observer(Human(p))
    return p


def script() -> list[list[Action]]:
    t1: list[Action] = [
        CommandAction(command="echo a", turn_id="turn-1"),
        CommandAction(command="ASK b", turn_id="turn-1"),
        CommandAction(command="echo slow c", turn_id="turn-1"),
        PatchAction(patch="f.txt=v1", turn_id="turn-1"),
        CommandAction(command="ASK deny d", turn_id="turn-1"),
        CommandAction(command="POLICY-DENY curl x", turn_id="turn-1"),
        CommandAction(command="ASK edit e", turn_id="turn-1"),
    ]
    t2: list[Action] = [
        CommandAction(command="echo f", turn_id="turn-2"),
        CommandAction(command="ASK g", turn_id="turn-2"),
    ]
    return [t1, t2]


def states(p: Pipeline) -> dict[str, str]:
    return {v.action.id: v.state.value for v in p.views()}


async def main(ws: Path, mode: str) -> None:
    if mode == "run":
        journal = begin(ws)
        if os.environ.get("CRASH_AFTER"):
            crash_after(journal.audit, int(os.environ["CRASH_AFTER"]))
        p = build(ws, journal)
        await p.run(ScriptedLink(script()))
        journal.close()
        print(json.dumps({"audit": str(journal.audit.path), "after": states(p)}))
        return
    candidates = find_resumable(ws)
    if not candidates:
        print(json.dumps({"resumable": False}))
        return
    journal = begin(ws, resume=candidates[0])
    if os.environ.get("CRASH_AFTER"):
        crash_after(journal.audit, int(os.environ["CRASH_AFTER"]))
    p = build(ws, journal)
    seed(p, journal.recovered)
    before = states(p)
    human = Human(p)
    for view in p.waiting():  # seeded actions wait without an event: the console lists them
        asyncio.get_running_loop().call_later(0.001, human.answer, view.action.id)
    await p.drain()
    journal.close()
    print(
        json.dumps(
            {
                "resumable": True,
                "audit": str(journal.audit.path),
                "summary": candidates[0].recovery.summary(),
                "before": before,
                "after": states(p),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
