"""`lockgate hook AGENT --policy-only`: the same decision path as the console, headless, in
this process, for CI where nobody watches a console.

The safe reading of "policy alone": whatever the policy would ask a human is **denied**, with
the policy's reason (never `ask`: an agent's own prompt would put the decision back with
whoever runs it, possibly auto-approving). Approved shell commands are still rewritten into
`lockgate sandbox run`. Each agent session gets one audit log (`<data dir>/audit/hooks/`),
appended to by every call of that session.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from app.hooks.wire import Answer, Request

if TYPE_CHECKING:
    from app.core.audit import AuditLog
    from app.core.model import Action, Result, Verdict
    from app.core.ports import PatchReview
    from app.hooks.handoff import HandOffPatches
    from app.hooks.mapping import Mapped, ToolCall

LOCK_WAIT_S = 3.0
T = TypeVar("T")


def main(agent: str, workspace: str | None = None) -> int:
    """`lockgate hook AGENT --policy-only`: stdin → one decision → stdout, in the agent's
    format. Exit 0 with the answer; 2 (blocks the call) if lockgate itself broke."""
    import sys

    from app.hooks.client import deny, event_from_stdin, render
    from app.hooks.wire import MAX_LINE, WireError

    try:
        try:
            event = event_from_stdin(sys.stdin.buffer.read(MAX_LINE + 1))
        except WireError as exc:
            answer = deny(f"lockgate: {exc}; denied")
        else:
            answer = decide(agent, event, workspace=workspace)
        text = render(agent, answer)
        if text:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        return 0
    except BaseException as exc:  # never fail open
        sys.stderr.write(f"lockgate hook failed ({type(exc).__name__}: {exc}); denied\n")
        return 2


def workspace_for(event: dict[str, Any], given: str | None) -> Path:
    for candidate in (
        given,
        os.environ.get("CLAUDE_PROJECT_DIR"),
        os.environ.get("GEMINI_PROJECT_DIR"),
        event.get("cwd") if isinstance(event.get("cwd"), str) else None,
    ):
        if candidate and os.path.isdir(candidate):
            return Path(os.path.realpath(candidate))
    return Path(os.path.realpath(os.getcwd()))


def decide(
    agent: str,
    event: dict[str, Any],
    *,
    workspace: str | None = None,
    timeout_s: float = 600.0,
    launcher: tuple[str, ...] | None = None,
) -> Answer:
    """One decision, policy only. Any failure to set up denies (with the reason).

    Decided in this process without an event loop (`_Alone`): one action of a fresh turn,
    through the pipeline's own steps (`app.core.decide`) and the service's own answers
    (`app.hooks.answers`), with the records the pipeline would write. A network call (asked
    per host, as its own batch) goes through the full pipeline (`decide_with_pipeline`)."""
    try:
        ws = workspace_for(event, workspace)
        call = _map(agent, event, ws)
        if call.mapped is not None and call.mapped.kind == "network":
            return decide_with_pipeline(agent, event, ws, timeout_s, launcher)
        return _Alone(call, ws, timeout_s, launcher).answer()
    except Exception as exc:
        return Answer("deny", f"lockgate --policy-only could not decide ({exc}); denied")


@dataclass(frozen=True)
class _Mapped:
    """The call as the service maps it: the request, and its mapping or why there is none."""

    request: Request
    call: ToolCall | None  # None when malformed
    mapped: Mapped | None
    error: str = ""


def _map(agent: str, event: dict[str, Any], ws: Path) -> _Mapped:
    from app.hooks.answers import turn_name
    from app.hooks.mapping import MappingError, ToolCall, map_call

    request = Request("", agent, event, 30.0)
    try:
        call = ToolCall.from_event(agent, event)
        # the first turn of this session in a console that has seen no other
        mapped = map_call(call, workspace=ws, turn_id=turn_name(call.agent, call.session_id))
    except MappingError as exc:
        return _Mapped(request, None, None, str(exc))
    return _Mapped(request, call, mapped)


def _setup(ws: Path) -> tuple[Any, Any]:
    """The risk engine and the session's policy (the user's and the project's rules checked)."""
    from app.core.config import load_user_config
    from app.risk.engine import RiskEngine
    from app.risk.policy import load_policy

    # One decision per process: no warm-up of indexes this call may never need, and the
    # built-in rules' examples are the test suite's to check; the user's and the project's
    # own rules are still checked (a broken one denies, with its error).
    risk = RiskEngine(warm=False)
    policy = load_policy(
        ws, user_config=load_user_config(), headless=True, engine=risk, check=False
    )
    _check_own_rules(policy)
    return risk, policy


class _AuditFailed(Exception):
    pass


class _Alone:
    """The pipeline and the hook service of a headless console that gets exactly one call:
    the same steps in the same order, writing the same records, with nothing to wait for (a
    headless policy never asks, and the hand-off executors only say who carries it out)."""

    def __init__(
        self, mapped: _Mapped, ws: Path, timeout_s: float, launcher: tuple[str, ...] | None
    ) -> None:
        self.mapped = mapped
        self.ws = ws
        self.timeout_s = timeout_s
        self.launcher = launcher
        self.audit: AuditLog | None = None
        self.audit_failed = ""
        self._patch_executor: HandOffPatches | None = None

    def answer(self) -> Answer:
        from app.core.ports import SessionContext
        from app.hooks.handoff import HookPolicy

        risk, policy = _setup(self.ws)
        self.context = SessionContext(workspace=self.ws, headless=True)
        self.risk = risk
        self.policy = HookPolicy(policy)
        request = self.mapped.request
        self.audit = audit = _open_audit(request.agent, request.event, self.ws)
        try:
            return self._handle(self.mapped)
        finally:
            audit.close(clean=False)

    # ------------------------------------------------------------------ HookService.handle

    def _handle(self, it: _Mapped) -> Answer:
        from app.hooks.answers import answer_record

        request, call, mapped = it.request, it.call, it.mapped
        if mapped is None:
            answer = Answer("deny", f"lockgate: {it.error}; denied")
        elif mapped.kind == "internal":
            answer = Answer("allow", f"lockgate: {mapped.reason}")
        elif mapped.kind == "refuse":
            answer = Answer("deny", mapped.reason)
        elif mapped.kind in ("command", "read", "patch", "tool") and call is not None:
            answer = self._review(call, mapped)
        else:  # network calls never come here (see `decide`)
            raise RuntimeError(f"a {mapped.kind} call cannot be decided alone")
        data, sync = answer_record(request, call, mapped, answer)
        with contextlib.suppress(Exception):
            assert self.audit is not None
            self.audit.write("hook-answer", data, sync=sync)
        if mapped is not None and mapped.actions:
            # the headless console closes: its one turn is closed with its one result
            ids = [a.id for a in mapped.actions]
            self._soft("turn-closed", {"turn_id": mapped.actions[0].turn_id, "action_ids": ids})
        return answer

    def _review(self, call: ToolCall, mapped: Mapped) -> Answer:
        from app.core.model import ResultStatus
        from app.hooks.answers import SandboxSpec, approval, default_launcher, denial

        action = mapped.actions[0]
        result = self._admit_and_run(action, call, mapped)
        if result.status is not ResultStatus.COMPLETED:
            return Answer("deny", denial(result), action_id=action.id)
        spec = SandboxSpec(self.launcher or default_launcher(), self.ws, timeout_s=self.timeout_s)
        return approval(call, mapped, action, result, spec)

    # ------------------------------------------------------------------ Pipeline._admit, _execute

    def _admit_and_run(self, action: Action, call: ToolCall, mapped: Mapped) -> Result:
        from app.core import decide as steps
        from app.core.model import PatchAction

        self._soft("proposal", {"action": action})
        review: PatchReview | None = None
        if isinstance(action, PatchAction):
            review = steps.review_patch(self._patches(), action)
            self._soft("patch-review", {"action_id": action.id, "review": review})
            if not review.ok:
                return self._finish(steps.unappliable(action, review))
        assessment = steps.assess(self.risk, action, self.context, ())
        self._soft("assessment", {"action_id": action.id, "assessment": assessment})
        decision = steps.decide(self.policy, action, assessment, headless=True)
        self._soft("decision", {"action_id": action.id, "decision": decision})
        verdict = steps.policy_verdict(action.id, decision)
        if verdict is None:  # headless: never; a verdict nobody can give is a denial
            raise RuntimeError(f"the policy asked a human ({decision.rule}) in headless mode")
        audit_error = ""
        try:
            self._record("verdict", {"verdict": verdict})
        except _AuditFailed as exc:
            audit_error = str(exc)
        if not verdict.kind.approves:
            return self._finish(steps.denied_result(action, verdict, decision))
        if self.audit_failed or audit_error:
            return self._finish(
                steps.never_ran(action, steps.not_recorded_message(self.audit_failed))
            )
        return self._execute(action, verdict, review, call, mapped)

    def _execute(
        self,
        action: Action,
        verdict: Verdict,
        review: PatchReview | None,
        call: ToolCall,
        mapped: Mapped,
    ) -> Result:
        from app.core import decide as steps
        from app.core.model import CommandAction, PatchAction
        from app.hooks.answers import handoff_note
        from app.hooks.handoff import HandOffCommands

        extra: dict[str, Any] = {}
        if isinstance(action, CommandAction):
            ran = steps.command_to_run(action, verdict)
        else:
            assert review is not None and review.ok
            ran = steps.patch_summary(review)
            extra = {"pre": self._hash([f[0] for f in review.files])}
        try:
            self._record("execution-start", {"action_id": action.id, "ran": ran, **extra})
        except _AuditFailed:
            return self._finish(
                steps.never_ran(action, steps.not_recorded_message(self.audit_failed))
            )
        streamed = steps.StreamDigest()
        try:
            if isinstance(action, CommandAction):
                commands = HandOffCommands()
                commands.notes[action.id] = handoff_note(call, mapped)
                result = _finished(commands.run(action, ran, streamed.take))
            else:
                assert isinstance(action, PatchAction) and review is not None
                result = _finished(self._patches().apply(action, review))
        except Exception as exc:
            result = steps.could_not_run(action, exc)
        result = steps.normalise(action, result, ran, verdict)
        post: dict[str, Any] = {}
        if review is not None:
            paths = [f[0] for f in review.files]
            paths += [p for p in result.files_changed if p not in paths]
            post = {"post": self._hash(paths)}
        self._soft(
            "execution-end",
            {"result": result, "digest": steps.output_digest(result, streamed), **post},
        )
        return result

    def _patches(self) -> HandOffPatches:
        """The real patch engine reviews, made on first use (~15 ms to import; asyncio is not)."""
        from app.hooks.handoff import HandOffPatches

        if self._patch_executor is None:
            ws = self.ws
            self._patch_executor = HandOffPatches(lambda: _patch_engine(ws))
        return self._patch_executor

    def _hash(self, paths: list[str]) -> dict[str, str | None]:
        from app.core.audit import hash_workspace_files

        return hash_workspace_files(self.ws, paths)

    # ------------------------------------------------------------------ Pipeline._record …

    def _finish(self, result: Result) -> Result:
        self._soft("result", {"result": result})
        return result

    def _record(self, kind: str, data: dict[str, Any], *, sync: bool = True) -> None:
        if self.audit_failed:
            raise _AuditFailed(self.audit_failed)
        try:
            assert self.audit is not None
            self.audit.write(kind, data, sync=sync)
        except Exception as exc:
            self.audit_failed = f"{type(exc).__name__}: {exc}"
            raise _AuditFailed(self.audit_failed) from exc

    def _soft(self, kind: str, data: dict[str, Any]) -> None:
        with contextlib.suppress(_AuditFailed):
            self._record(kind, data, sync=False)


def _finished(coro: Coroutine[Any, Any, T]) -> T:
    """The value of a coroutine that completes without waiting (the hand-off executors only
    build their result); one that would wait is an error, never a decision."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coro.close()
    raise RuntimeError("a hand-off executor would wait")


def decide_with_pipeline(
    agent: str,
    event: dict[str, Any],
    ws: Path,
    timeout_s: float = 600.0,
    launcher: tuple[str, ...] | None = None,
) -> Answer:
    """The same decision by a headless console's pipeline and hook service on an event loop
    (network calls; and the reference the one-shot path is tested against)."""
    import asyncio

    return asyncio.run(_decide(agent, event, ws, timeout_s, launcher))


async def _decide(
    agent: str,
    event: dict[str, Any],
    ws: Path,
    timeout_s: float,
    launcher: tuple[str, ...] | None,
) -> Answer:
    import asyncio

    from app.core.pipeline import Pipeline
    from app.core.ports import SessionContext
    from app.hooks.answers import SandboxSpec, default_launcher
    from app.hooks.handoff import HandOffCommands, HandOffPatches, HookPolicy
    from app.hooks.service import HookLink, HookService

    context = SessionContext(workspace=ws, headless=True)
    risk, policy = _setup(ws)
    commands = HandOffCommands()
    audit = _open_audit(agent, event, ws)
    try:
        link = HookLink()
        pipeline = Pipeline(
            context=context,
            risk=risk,
            policy=HookPolicy(policy),
            commands=commands,
            patches=HandOffPatches(lambda: _patch_engine(ws)),
            observers=[link],
            audit=audit,
        )
        service = HookService(
            pipeline,
            link,
            commands,
            workspace=ws,
            spec=SandboxSpec(launcher or default_launcher(), ws, timeout_s=timeout_s),
            audit=audit,
        )
        running = asyncio.ensure_future(pipeline.run(link))
        try:
            return await service.handle(Request("", agent, event, 30.0))
        finally:
            await link.cancel()
            await running
    finally:
        audit.close(clean=False)


def _patch_engine(ws: Path) -> Any:
    from app.execute.patches import WorkspacePatchExecutor

    return WorkspacePatchExecutor(ws, ask_for_protected=False)


def _check_own_rules(policy: Any) -> None:
    from app.core.model import CommandAction
    from app.risk.rules import check_examples

    def subject(text: str) -> Any:
        return policy.subject(CommandAction(text, "example"))

    for layer in policy.layers:
        if layer.source != "default":
            check_examples(layer.rules, subject, layer.where)


def _open_audit(agent: str, event: dict[str, Any], ws: Path) -> Any:
    """This agent session's log, continued; another call of the same session holding it makes
    this one wait a little (parallel tool calls)."""
    from app.core.audit import AuditError, AuditLog, audit_dir

    sid = str(event.get("session_id") or "unknown")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", sid)[:80] or "unknown"
    path = audit_dir() / "hooks" / f"{agent}-{safe}.jsonl"
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            log = AuditLog(path, session_id=f"hook-{agent}-{safe}", workspace=ws)
            break
        except AuditError as exc:
            if "another lockgate session" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    if log.records == 0:
        log.write(
            "session-start",
            {"workspace": str(ws), "pid": os.getpid(), "resumed_from": None, "agent": agent},
        )
    return log
