"""The machinery every agent link shares: a producer task, an event queue, and the turn handshake.

Each link writes its conversation as one coroutine (`_run`) that emits events and awaits results.
Running it as a task behind a queue means `cancel()` can stop it wherever it is (mid-request,
mid-stream, waiting for a verdict) and the consumer still sees a clean end: a final
`AgentStatus("cancelled")` and the end of `events()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from app.agent.errors import redact
from app.core.events import AgentCheckpoint, AgentEvent, AgentStatus, Proposed, TurnEnded
from app.core.model import Action, Result, new_id


class LinkClosed(Exception):
    """Raised inside `_run` when the link was cancelled while it waited."""


@dataclass
class _Turn:
    turn_id: str
    actions: tuple[Action, ...]
    done: asyncio.Future[tuple[Result, ...]] = field(repr=False)


_END = object()

MAX_ACTIONS_PER_TURN = 64
"""More proposals than this in one model turn are refused (with an error to the model): a flood
would bury the reviewer."""
StatusState = Literal["idle", "thinking", "waiting", "retrying", "error", "done", "cancelled"]


class LinkBase:
    """Subclasses implement `_run()`; they call `_emit()` and `_turn()`."""

    def __init__(self, *, secrets: Sequence[str] = ()) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._pending: _Turn | None = None
        self._cancelled = False
        self._secrets = tuple(s for s in secrets if s)

    # ------------------------------------------------------------------ AgentLink

    async def events(self) -> AsyncIterator[AgentEvent]:
        if self._task is not None:
            raise RuntimeError("an agent link's events() can be consumed only once")
        self._task = asyncio.create_task(self._main(), name=f"{type(self).__name__}")
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                yield cast(AgentEvent, item)
        finally:
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        turn = self._pending
        if self._cancelled and (turn is None or turn.done.done()):
            return  # results for a turn we already abandoned
        if turn is None or turn.turn_id != turn_id:
            raise ValueError(f"no turn {turn_id!r} is waiting for results")
        ids = [r.action_id for r in results]
        expected = [a.id for a in turn.actions]
        if ids != expected:
            raise ValueError(
                f"results for turn {turn_id} must answer {expected} in order, got {ids}"
            )
        if not turn.done.done():
            turn.done.set_result(tuple(results))

    async def cancel(self) -> None:
        self._cancelled = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------------------------ for subclasses

    async def _run(self) -> None:
        raise RuntimeError(f"{type(self).__name__} does not define _run")

    def _emit(self, event: AgentEvent) -> None:
        self._queue.put_nowait(event)

    def _status(self, state: StatusState, detail: str = "") -> None:
        self._emit(AgentStatus(state, redact(detail, self._secrets)))

    def new_turn_id(self) -> str:
        return new_id("turn")

    def _checkpoint(self, api: str, turn_id: str, state: Mapping[str, Any]) -> None:
        """Hand the pipeline what a restored link needs to take this turn up again after a
        crash (written to the audit log before the turn's proposals)."""
        self._emit(AgentCheckpoint(api, turn_id, dict(state)))

    async def _turn(self, turn_id: str, actions: Sequence[Action]) -> tuple[Result, ...]:
        """Propose `actions` as one turn and wait for their results, in proposal order."""
        loop = asyncio.get_running_loop()
        turn = _Turn(turn_id, tuple(actions), loop.create_future())
        self._pending = turn
        # The status goes first: the pipeline reads nothing after TurnEnded until the turn is
        # answered, so a status sent after it would arrive too late to mean anything.
        n = len(turn.actions)
        self._status("waiting", f"{n} action proposed" if n == 1 else f"{n} actions proposed")
        for action in turn.actions:
            self._emit(Proposed(action))
        self._emit(TurnEnded(turn_id))
        try:
            return await turn.done
        finally:
            self._pending = None

    # ------------------------------------------------------------------ the producer

    async def _main(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            self._emit(AgentStatus("cancelled", "stopped by the reviewer"))
        except Exception as exc:  # a bug must not take the console down; it is shown instead
            detail = redact(f"agent link failed: {type(exc).__name__}: {exc}", self._secrets)
            self._emit(AgentStatus("error", detail))
        finally:
            self._queue.put_nowait(_END)


class ResumeMismatch(ValueError):
    """A killed session's conversation cannot be taken up by this link (another API, or records
    that do not fit together); the message says why in one line."""


A = TypeVar("A", bound=Action)


def with_ids(actions: Sequence[A], ids: Sequence[str]) -> list[A]:
    """The actions a restored link plans again, under the ids the killed session gave them (so
    the pipeline recognises the turn it recovered from the audit log)."""
    if len(actions) != len(ids) or not all(isinstance(i, str) and i for i in ids):
        raise ResumeMismatch(
            f"the interrupted turn had {len(ids)} actions recorded but its model output plans "
            f"{len(actions)}; cannot resume the conversation"
        )
    return [dataclasses.replace(a, id=i) for a, i in zip(actions, ids, strict=True)]


def checkpoints(conversation: Sequence[Mapping[str, Any]], api: str) -> list[Mapping[str, Any]]:
    """The `agent-state` records of a killed session, checked to belong to `api`."""
    if not conversation:
        return []
    others = {str(c.get("api")) for c in conversation if c.get("api") != api}
    if others:
        raise ResumeMismatch(
            f"the interrupted session talked to the {' / '.join(sorted(others))} API; resume it "
            f"with --api {sorted(others)[0]}"
        )
    for c in conversation:
        if not isinstance(c.get("state"), Mapping) or not isinstance(c.get("turn_id"), str):
            raise ResumeMismatch("an agent-state record of the interrupted session is malformed")
    return list(conversation)
