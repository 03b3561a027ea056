"""Helpers for driving an agent link the way the pipeline does, without the pipeline.

`drive(link, respond)` consumes `events()`, collects each turn's proposals, and on `TurnEnded`
answers them with `respond(action)` through `submit_results`, exactly the handshake of the
AgentLink port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from app.agent.errors import Backoff
from app.core.events import (
    ActionStateChanged,
    AgentEvent,
    AgentStatus,
    AgentText,
    PipelineEvent,
    Proposed,
    TurnEnded,
)
from app.core.model import (
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
    VerdictKind,
)
from app.core.pipeline import Pipeline
from app.core.ports import AgentLink, OutputSink, SessionContext
from app.core.state import ActionState
from app.execute.patches import WorkspacePatchExecutor

FAST = Backoff(attempts=2, base_s=0.01, cap_s=0.05, jitter=0.0)
API_KEY = "sk-test-SECRETSECRETSECRET1234"

Respond = Callable[[Action], Result]


def ok(stdout: bytes = b"", stderr: bytes = b"", code: int = 0) -> Respond:
    def respond(action: Action) -> Result:
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            exit_code=code,
            stdout=stdout,
            stderr=stderr,
            stdout_total=len(stdout),
            stderr_total=len(stderr),
            ran=action.command if isinstance(action, CommandAction) else None,
            files_changed=("a.py",) if isinstance(action, PatchAction) else (),
            message="Applied 1 file." if isinstance(action, PatchAction) else "",
        )

    return respond


async def drive(
    link: AgentLink, respond: Respond, *, timeout: float = 15.0, stop_after: int | None = None
) -> list[AgentEvent]:
    """Run the link to its end; `stop_after=n` cancels it after the n-th event instead."""
    seen: list[AgentEvent] = []

    async def go() -> None:
        pending: list[Action] = []
        async for event in link.events():
            seen.append(event)
            if isinstance(event, Proposed):
                pending.append(event.action)
            elif isinstance(event, TurnEnded):
                results = [respond(a) for a in pending]
                pending = []
                await link.submit_results(event.turn_id, results)
            if stop_after is not None and len(seen) == stop_after:
                await link.cancel()

    await asyncio.wait_for(go(), timeout)
    return seen


def proposals(events: list[AgentEvent]) -> list[Action]:
    return [e.action for e in events if isinstance(e, Proposed)]


def statuses(events: list[AgentEvent]) -> list[AgentStatus]:
    return [e for e in events if isinstance(e, AgentStatus)]


def text(events: list[AgentEvent], kind: str = "text") -> str:
    return "".join(e.text for e in events if isinstance(e, AgentText) and e.kind == kind)


def last_status(events: list[AgentEvent]) -> AgentStatus:
    return statuses(events)[-1]


def everything(events: list[AgentEvent]) -> str:
    """Every event as text, to check that a secret appears nowhere."""
    return "\n".join(repr(e) for e in events)


# --------------------------------------------------------------------------- a small real pipeline


SAFE_VERBS = ("echo", "cat", "ls", "printf")


class VerbRisk:
    def assess(
        self, action: Action, context: SessionContext, batch: Sequence[Action] = ()
    ) -> Assessment:
        if isinstance(action, CommandAction) and action.command.split()[0] in SAFE_VERBS:
            return Assessment(score=0, level=Level.SAFE)
        return Assessment(score=70, level=Level.HIGH, reasons=("not a read-only verb",))


class AllowSafe:
    def decide(self, action: Action, assessment: Assessment) -> Decision:
        if assessment.level is Level.SAFE:
            return Decision(DecisionKind.ALLOW, rule="test:safe")
        return Decision(DecisionKind.ASK, rule="test:ask", reason="not a read-only verb")

    def remember(self, action: Action, verdict: Verdict) -> None:
        return None


class BashInWorkspace:
    """Runs `bash -c` in the temp workspace (the sandbox has its own tests)."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    async def run(self, action: CommandAction, command: str, on_output: OutputSink) -> Result:
        start = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=self.workspace,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        on_output("stdout", out)
        return Result(
            action.id,
            ResultStatus.COMPLETED,
            exit_code=proc.returncode,
            stdout=out,
            stderr=err,
            stdout_total=len(out),
            stderr_total=len(err),
            duration_s=time.monotonic() - start,
            ran=command,
        )


class Reviewer:
    """Answers every waiting action from a table keyed by a substring of its text."""

    def __init__(self, pipeline: Pipeline, answers: dict[str, Verdict]) -> None:
        self.pipeline = pipeline
        self.answers = answers

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
            asyncio.get_running_loop().call_soon(self._answer, event.action_id)

    def _answer(self, action_id: str) -> None:
        action = self.pipeline.view(action_id).action
        for key, verdict in self.answers.items():
            if key in action.reviewed_text:
                self.pipeline.submit_verdict(
                    Verdict(
                        action_id, verdict.kind, feedback=verdict.feedback, edited=verdict.edited
                    )
                )
                return
        self.pipeline.submit_verdict(Verdict(action_id, VerdictKind.DENY))


def pipeline_for(ws: Path, headless: bool) -> Pipeline:
    return Pipeline(
        context=SessionContext(workspace=ws, headless=headless),
        risk=VerbRisk(),
        policy=AllowSafe(),
        commands=BashInWorkspace(ws),
        patches=WorkspacePatchExecutor(ws),
    )
