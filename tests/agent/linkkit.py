"""Helpers for driving an agent link the way the pipeline does, without the pipeline.

`drive(link, respond)` consumes `events()`, collects each turn's proposals, and on `TurnEnded`
answers them with `respond(action)` through `submit_results`, exactly the handshake of the
AgentLink port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.agent.errors import Backoff
from app.core.events import AgentEvent, AgentStatus, AgentText, Proposed, TurnEnded
from app.core.model import Action, CommandAction, PatchAction, Result, ResultStatus
from app.core.ports import AgentLink

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


def strip_ids(value: Any) -> Any:
    return value
