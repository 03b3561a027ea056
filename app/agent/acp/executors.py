"""The session's executors and policy, wrapped for ACP items (see `items.py`).

`AcpCommands.run` answers a permission item without running anything ("the agent may"), a read
item by reading the file the way the agent would see it, and a terminal item by running the
command in the session's sandbox while the agent polls its output. `AcpPatches` does the same
for permission items shaped as patches (an `edit` permission with a diff). `AcpPolicy` never
lets the policy approve an item whose text the risk engine cannot judge. `VerdictRecorder`
remembers each verdict so the link can pick the matching ACP option (allow_always …).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from app.agent.acp.items import AcpItems, ReadItem
from app.agent.acp.overlay import read_beneath
from app.core.events import PipelineEvent, VerdictGiven
from app.core.model import (
    Action,
    Assessment,
    CommandAction,
    Decision,
    DecisionKind,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
)
from app.core.ports import CommandExecutor, OutputSink, PatchExecutor, PatchReview, PolicyEngine

MAX_READ = 16 << 20
SHOWN_READ = 64 << 10  # how much of a read the output pane shows


class AcpCommands:
    def __init__(self, inner: CommandExecutor, items: AcpItems) -> None:
        self._inner = inner
        self._items = items

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        if action.id in self._items.permissions:
            return Result(
                action.id,
                ResultStatus.COMPLETED,
                exit_code=0,
                ran=None,
                message="permission given to the agent (it acts itself, inside its jail)",
                call_id=action.call_id,
            )
        read = self._items.reads.get(action.id)
        if read is not None and command == action.command:
            return self._read(action, read, on_output)
        term = self._items.terminals.get(action.id)
        if term is None:
            return await self._inner.run(action, command, on_output)

        def tee(stream: str, data: bytes) -> None:
            on_output("stdout" if stream == "stdout" else "stderr", data)
            term.feed(data)

        task: asyncio.Task[Result] = asyncio.ensure_future(self._inner.run(action, command, tee))
        term.task = task
        term.started.set()
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not (term.killed and task.done()):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                term.signal = "SIGKILL"
                term.done.set()
                raise
            result = Result(
                action.id,
                ResultStatus.CANCELLED,
                ran=command,
                message="killed by the agent (terminal/kill); every process was killed",
                call_id=action.call_id,
            )
        except Exception as exc:
            result = Result(
                action.id, ResultStatus.FAILED, message=str(exc), call_id=action.call_id
            )
        if result.status is ResultStatus.COMPLETED and result.exit_code is not None:
            if result.exit_code >= 128 and "signal" in result.message:
                term.signal = f"signal {result.exit_code - 128}"
            else:
                term.exit_code = result.exit_code
        else:
            term.signal = "SIGKILL"
            if result.message and result.status is not ResultStatus.CANCELLED:
                term.feed(f"\nlockgate: {result.message}\n".encode())
        term.done.set()
        return result

    @staticmethod
    def _missing(action: CommandAction, read: ReadItem) -> Result:
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            exit_code=1,
            stderr=f"{read.path}: No such file or directory".encode(),
            message=f"cannot read {read.path}: No such file or directory",
            call_id=action.call_id,
            ran=action.command,
        )

    def _read(self, action: CommandAction, read: ReadItem, on_output: OutputSink) -> Result:
        started = time.monotonic()
        try:
            if read.rel is not None and self._items.merged_root is not None:
                data = read_beneath(self._items.merged_root, read.rel, MAX_READ)
            else:
                with open(read.path, "rb") as f:
                    data = f.read(MAX_READ + 1)
                if len(data) > MAX_READ:
                    raise OSError(27, f"larger than {MAX_READ >> 20} MB")
        except FileNotFoundError:
            if read.rel is None:
                return self._missing(action, read)
            # A file that does not exist yet reads as empty, as in Zed (the reference client):
            # agents check for a new file that way before they write it.
            data = b""
        except OSError as exc:
            return Result(
                action.id,
                ResultStatus.COMPLETED,
                exit_code=1,
                stderr=f"{read.path}: {exc.strerror or exc}".encode(),
                message=f"cannot read {read.path}: {exc.strerror or exc}",
                call_id=action.call_id,
                ran=action.command,
            )
        text = data.decode("utf-8", errors="replace")
        if read.line is not None or read.limit is not None:
            lines = text.splitlines(keepends=True)
            start = max(0, (read.line or 1) - 1)
            end = None if read.limit is None else start + max(0, read.limit)
            text = "".join(lines[start:end])
        out = text.encode()
        on_output("stdout", out[:SHOWN_READ])
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            exit_code=0,
            stdout=out,
            stdout_total=len(out),
            duration_s=time.monotonic() - started,
            ran=action.command,
            call_id=action.call_id,
        )


class AcpPatches:
    def __init__(self, inner: PatchExecutor, items: AcpItems) -> None:
        self._inner = inner
        self._items = items

    def review(self, action: PatchAction) -> PatchReview:
        review = self._inner.review(action)
        if action.id in self._items.permissions and not review.ok:
            # The agent's own diff, shown as it sent it: approving only lets it write (in its
            # jail); what it really writes is reviewed again from the overlay.
            return PatchReview(action.id, True, action.patch, review.files)
        return review

    async def apply(self, action: PatchAction, review: PatchReview) -> Result:
        if action.id in self._items.permissions:
            return Result(
                action.id,
                ResultStatus.COMPLETED,
                exit_code=0,
                message="permission given to the agent (it writes itself, inside its jail)",
                call_id=action.call_id,
            )
        return await self._inner.apply(action, review)

    async def undo_last(self) -> Result:
        return await self._inner.undo_last()

    def __getattr__(self, name: str) -> object:  # approve_protected_item and friends
        return getattr(self._inner, name)


class AcpPolicy:
    def __init__(self, inner: PolicyEngine, items: AcpItems, *, headless: bool) -> None:
        self._inner = inner
        self._items = items
        self._headless = headless

    def decide(self, action: Action, assessment: Assessment) -> Decision:
        decision = self._inner.decide(action, assessment)
        if decision.kind == DecisionKind.ASK and self._items.already_approved(action.id):
            return Decision(
                DecisionKind.ALLOW,
                rule="acp:approved-permission",
                reason="exactly the change approved in the agent's permission request",
                source="session",
            )
        if action.id in self._items.opaque and decision.kind == DecisionKind.ALLOW:
            return Decision(
                DecisionKind.DENY if self._headless else DecisionKind.ASK,
                rule="acp:opaque-permission",
                reason="lockgate cannot judge what this permission covers; a human decides",
                source="headless" if self._headless else "default",
            )
        return decision

    def remember(self, action: Action, verdict: Verdict) -> None:
        self._inner.remember(action, verdict)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class VerdictRecorder:
    def __init__(self, items: AcpItems) -> None:
        self._items = items

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, VerdictGiven):
            self._items.verdicts[event.verdict.action_id] = event.verdict
