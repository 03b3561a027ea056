"""Hook requests → the review pipeline → hook answers.

`HookLink` is the AgentLink of a console with no agent of its own: each hook request becomes a
`Proposed` action in the turn group of its agent session ("claude:1a2b3c4d"), so the risk
engine, policy, queue, console and audit log do the work they do for any agent. The link also
observes the pipeline and answers each request from its action's result: an action that
"completed" was approved (and handed to the agent, see `handoff.py`), anything else is a denial
whose message the agent shows its model.

A session's turn group stays open while the session lives (actions of one agent session are
decided in order, as any turn's are); if the reviewer cancels it, that session's next call opens
a fresh group.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from app.core.events import (
    AgentEvent,
    AgentStatus,
    ExecutionFinished,
    PipelineEvent,
    Proposed,
)
from app.core.model import (
    CommandAction,
    NetworkAction,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.hooks.answers import (
    SandboxSpec,
    answer_record,
    approval,
    denial,
    handoff_note,
    ran_differs,
    turn_name,
)
from app.hooks.handoff import HandOffCommands
from app.hooks.mapping import Mapped, MappingError, ToolCall, map_call
from app.hooks.wire import Answer, Request

WITHDRAWN_KEY = "hook-gone"


class HookLink:
    """AgentLink + Observer: proposals from hook requests, answers from the pipeline's results."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        self._waiting: dict[str, asyncio.Future[Result]] = {}
        self._turns: dict[tuple[str, str], str] = {}
        self._generation: dict[tuple[str, str], int] = {}
        self._closed = False

    # ------------------------------------------------------------------ AgentLink

    async def events(self) -> AsyncIterator[AgentEvent]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        return None  # each action was answered on its own when it finished

    async def cancel(self) -> None:
        self._closed = True
        for fut in self._waiting.values():
            if not fut.done():
                fut.cancel()
        self._queue.put_nowait(None)

    def status(self, state: Any, detail: str) -> None:
        self._queue.put_nowait(AgentStatus(state, detail))

    # ------------------------------------------------------------------ Observer

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, ExecutionFinished):
            fut = self._waiting.get(event.result.action_id)
            if fut is not None and not fut.done():
                fut.set_result(event.result)

    # ------------------------------------------------------------------ for the service

    def turn_for(self, agent: str, session_id: str) -> str:
        key = (agent, session_id)
        turn = self._turns.get(key)
        if turn is None:
            n = self._generation.get(key, 0) + 1
            self._generation[key] = n
            turn = turn_name(agent, session_id, n)
            self._turns[key] = turn
        return turn

    def retire_turn(self, agent: str, session_id: str) -> None:
        """The reviewer cancelled this session's group: its next call opens a new one."""
        self._turns.pop((agent, session_id), None)

    def propose(self, action: CommandAction | Any) -> asyncio.Future[Result]:
        if self._closed:
            raise RuntimeError("the console is closing")
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting[action.id] = fut
        fut.add_done_callback(lambda _f: self._waiting.pop(action.id, None))
        self._queue.put_nowait(Proposed(action))
        return fut


class HookService:
    """Answers hook requests from a pipeline (with a console, or headless for --policy-only)."""

    def __init__(
        self,
        pipeline: Any,
        link: HookLink,
        commands: HandOffCommands,
        *,
        workspace: Path,
        spec: SandboxSpec,
        rules: Any = None,  # sandbox.net.NetworkRules of the session, or None
        audit: Any = None,  # app.core.audit.AuditLog
        token: str | None = None,
        on_answer: Callable[[str], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.link = link
        self.commands = commands
        self.workspace = workspace
        self.spec = spec
        self.rules = rules
        self.audit = audit
        self._token = token
        self.on_answer = on_answer  # one line per answer (serve --headless prints them)

    async def handle(self, request: Request, gone: asyncio.Event | None = None) -> Answer:
        """One request → one answer. `gone` is set when the client went away (its agent's hook
        timeout): the question is withdrawn as a denial."""
        if self._token is not None and not hmac.compare_digest(
            request.token.encode("utf-8", "replace"), self._token.encode("utf-8")
        ):
            answer = Answer("deny", "lockgate: wrong token for this console; denied")
            self._record(request, None, None, answer)
            return answer
        try:
            call = ToolCall.from_event(request.agent, request.event)
            turn_id = self.link.turn_for(call.agent, call.session_id)
            mapped = map_call(call, workspace=self.workspace, turn_id=turn_id)
        except MappingError as exc:
            answer = Answer("deny", f"lockgate: {exc}; denied")
            self._record(request, None, None, answer)
            return answer
        if mapped.kind == "internal":
            answer = Answer("allow", f"lockgate: {mapped.reason}")
        elif mapped.kind == "refuse":
            answer = Answer("deny", mapped.reason)
        elif mapped.kind == "network":
            answer = await self._network(mapped, request.wait_s, gone)
        else:
            answer = await self._review(call, mapped, request.wait_s, gone)
        self._record(request, call, mapped, answer)
        if self.on_answer is not None:
            what = mapped.actions[0].reviewed_text if mapped.actions else call.tool_name
            self.on_answer(
                f"{self.link.turn_for(call.agent, call.session_id)} {call.tool_name}: "
                f"{' '.join(what.split())[:120]} → {answer.decision}"
                + (f" ({answer.reason})" if answer.decision != "allow" else "")
            )
        return answer

    # ------------------------------------------------------------------ kinds

    async def _review(
        self, call: ToolCall, mapped: Mapped, wait_s: float, gone: asyncio.Event | None
    ) -> Answer:
        action = mapped.actions[0]
        if isinstance(action, CommandAction):
            self.commands.notes[action.id] = handoff_note(call, mapped)
        try:
            fut = self.link.propose(action)
        except RuntimeError:
            return Answer("deny", "lockgate: the console is closing; denied")
        result = await self._wait(fut, action.id, wait_s, gone)
        if result is None:
            return Answer("deny", "lockgate: the console closed before a verdict; denied", None)
        if result.status is ResultStatus.CANCELLED:
            self.link.retire_turn(call.agent, call.session_id)
        if result.status is not ResultStatus.COMPLETED:
            return Answer("deny", denial(result), action_id=action.id)
        return approval(call, mapped, action, result, self.spec)

    async def _wait(
        self,
        fut: asyncio.Future[Result],
        action_id: str,
        wait_s: float,
        gone: asyncio.Event | None,
    ) -> Result | None:
        waiters: set[asyncio.Future[Any]] = {fut}
        gone_task: asyncio.Task[Any] | None = None
        if gone is not None:
            gone_task = asyncio.ensure_future(gone.wait())
            waiters.add(gone_task)
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if gone_task is not None and not gone_task.done():
                gone_task.cancel()
        if fut not in done:
            why = (
                "the agent's hook stopped waiting"
                if gone is not None and gone.is_set()
                else f"no verdict within {wait_s:g} s"
            )
            self._withdraw(action_id, why)
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                return await asyncio.wait_for(asyncio.shield(fut), 5.0)
            return None
        if fut.cancelled():
            return None
        return fut.result()

    def _withdraw(self, action_id: str, why: str) -> None:
        from app.core.pipeline import PipelineError

        with contextlib.suppress(PipelineError):
            self.pipeline.submit_verdict(
                Verdict(action_id, VerdictKind.DENY, by="policy", key=WITHDRAWN_KEY, feedback=why)
            )

    async def _network(self, mapped: Mapped, wait_s: float, gone: asyncio.Event | None) -> Answer:
        from sandbox.net import RuleVerdict
        from sandbox.net.host import canonical_host

        for action in mapped.actions:
            assert isinstance(action, NetworkAction)
            if self.rules is not None:
                try:
                    match = self.rules.check_target(canonical_host(action.host), action.port)
                except ValueError as exc:
                    return Answer("deny", f"lockgate: {action.host}: {exc}; denied")
                if match.verdict is RuleVerdict.DENY:
                    return Answer(
                        "deny",
                        f"lockgate: {action.reviewed_text} refused ({match.rule}): {match.reason}",
                    )
                if match.verdict is RuleVerdict.ALLOW:
                    continue
            ask = asyncio.ensure_future(self.pipeline.ask_network(action, wait_s))
            waiters: set[asyncio.Future[Any]] = {ask}
            gone_task = asyncio.ensure_future(gone.wait()) if gone is not None else None
            if gone_task is not None:
                waiters.add(gone_task)
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if gone_task is not None and not gone_task.done():
                gone_task.cancel()
            if ask not in done:
                ask.cancel()  # the pipeline expires the ask and records the denial
                with contextlib.suppress(BaseException):
                    await ask
                return Answer("deny", "lockgate: the agent's hook stopped waiting; denied")
            verdict: Verdict = ask.result()
            if not verdict.kind.approves:
                why = verdict.feedback or "the reviewer said no"
                return Answer(
                    "deny", f"lockgate: {action.reviewed_text} denied: {why}", action_id=action.id
                )
        return Answer("allow", "approved by lockgate", action_id=mapped.actions[-1].id)

    # ------------------------------------------------------------------ audit

    def _record(
        self, request: Request, call: ToolCall | None, mapped: Mapped | None, answer: Answer
    ) -> None:
        """Every answer, with what it answered; decisions the pipeline never saw (internal
        tools, refusals, malformed calls, the allow-list's) are fsynced, the rest ride on its
        fsynced verdict."""
        if self.audit is None:
            return
        data, sync = answer_record(request, call, mapped, answer)
        with contextlib.suppress(Exception):
            self.audit.write("hook-answer", data, sync=sync)


__all__ = ["HookLink", "HookService", "SandboxSpec", "ran_differs"]
