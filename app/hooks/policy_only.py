"""`lockgate hook AGENT --policy-only`: the same decision path as the console, headless, in
this process, for CI where nobody watches a console.

The safe reading of "policy alone": whatever the policy would ask a human is **denied**, with
the policy's reason (never `ask`: an agent's own prompt would put the decision back with
whoever runs it, possibly auto-approving). Approved shell commands are still rewritten into
`lockgate sandbox run`. Each agent session gets one audit log (`<data dir>/audit/hooks/`),
appended to by every call of that session.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

from app.hooks.wire import Answer, Request

LOCK_WAIT_S = 3.0


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
    """One decision, policy only. Any failure to set up denies (with the reason)."""
    try:
        return asyncio.run(_decide(agent, event, workspace_for(event, workspace), timeout_s,
                                   launcher))  # fmt: skip
    except Exception as exc:
        return Answer("deny", f"lockgate --policy-only could not decide ({exc}); denied")


async def _decide(
    agent: str,
    event: dict[str, Any],
    ws: Path,
    timeout_s: float,
    launcher: tuple[str, ...] | None,
) -> Answer:
    from app.core.config import load_user_config
    from app.core.pipeline import Pipeline
    from app.core.ports import SessionContext
    from app.hooks.handoff import HandOffCommands, HandOffPatches, HookPolicy
    from app.hooks.serve import default_launcher
    from app.hooks.service import HookLink, HookService, SandboxSpec
    from app.risk.engine import RiskEngine
    from app.risk.policy import load_policy

    context = SessionContext(workspace=ws, headless=True)
    # One decision per process: no warm-up of indexes this call may never need, and the
    # built-in rules' examples are the test suite's to check; the user's and the project's
    # own rules are still checked (a broken one denies, with its error).
    risk = RiskEngine(warm=False)
    policy = load_policy(
        ws, user_config=load_user_config(), headless=True, engine=risk, check=False
    )
    _check_own_rules(policy)
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
