"""What a hook answer says, carries and records — without asyncio, so that both the service of
a running console (`service.HookService`) and the one-shot `--policy-only` process (which never
starts an event loop) answer with the same words, the same sandbox rewrite and the same audit
record.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.model import CommandAction, Result
from app.hooks.mapping import Mapped, ToolCall
from app.hooks.wire import Answer, Request

REWRITE_NOTE = "approved: the agent runs it inside `lockgate sandbox run`"
HANDED_NOTE = "approved: the agent carries it out itself"


def default_launcher() -> tuple[str, ...]:
    """How a rewritten command calls lockgate: this very `lockgate` executable by absolute
    path (never whatever `lockgate` the agent's PATH finds first)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "lockgate" and os.access(argv0, os.X_OK):
        return (os.path.abspath(argv0),)
    import shutil  # the usual case (run as `lockgate`) never needs it

    found = shutil.which("lockgate")
    if found:
        return (os.path.abspath(found),)
    return (sys.executable, "-m", "app")


@dataclass(frozen=True)
class SandboxSpec:
    """How an approved shell command is moved into the sandbox: the `lockgate` launcher, the
    session's workspace, its longest timeout and its network options for `sandbox run`."""

    launcher: tuple[str, ...]
    workspace: Path
    timeout_s: float = 600.0
    network_args: tuple[str, ...] = ()

    def wrap(self, command: str, *, cwd: str | None, timeout_s: float | None) -> str:
        """`lockgate sandbox run …` running `command` under `bash -c`, every word quoted for
        a POSIX shell. The reviewer saw `command`; this is only its container."""
        script = command
        if cwd:
            here = self.workspace / cwd
            script = f"cd -- {shlex.quote(str(here))} || exit 125\n{command}"
        limit = self.timeout_s if timeout_s is None else min(timeout_s, self.timeout_s)
        argv = [
            *self.launcher,
            "sandbox",
            "run",
            "--workspace",
            str(self.workspace),
            "--timeout",
            f"{limit:g}",
            *self.network_args,
            "--",
            "bash",
            "-c",
            script,
        ]
        return shlex.join(argv)


def turn_name(agent: str, session_id: str, generation: int = 1) -> str:
    """The turn group of an agent session ("claude:1a2b3c4d"; "#2" once the reviewer cancelled
    the first)."""
    short = "".join(c for c in session_id if c.isalnum() or c in "-_")[:8] or "session"
    return f"{agent}:{short}" + (f"#{generation}" if generation > 1 else "")


def rewrites(call: ToolCall, mapped: Mapped) -> bool:
    """Whether an approved call is carried out as `lockgate sandbox run …` (shell commands of
    agents whose hook can replace the command) rather than by the agent as it asked."""
    return mapped.kind == "command" and call.agent in ("claude", "gemini")


def handoff_note(call: ToolCall, mapped: Mapped) -> str:
    """What the result of an approved command says about who carries it out."""
    return REWRITE_NOTE if rewrites(call, mapped) else HANDED_NOTE


def ran_differs(result: Result, action: Any) -> bool:
    return isinstance(action, CommandAction) and bool(result.ran) and result.ran != action.command


def denial(result: Result) -> str:
    message = result.message or str(result.status)
    if result.feedback and result.feedback not in message:
        message = f"{message} (reviewer: {result.feedback})"
    return f"lockgate: {message}"


def approval(
    call: ToolCall, mapped: Mapped, action: Any, result: Result, spec: SandboxSpec
) -> Answer:
    """The answer to a call whose action completed (was approved and handed back)."""
    rewrite = rewrites(call, mapped)
    if ran_differs(result, action) and not rewrite:
        # The agent would carry out its own call, not the reviewer's edit of it (a read, a
        # tool call, a Codex command): never let an approval of one text run another.
        return Answer(
            "deny",
            "lockgate: the reviewer approved only an edited version, which this call cannot "
            f"carry; propose it as written if it is what you need: {result.ran}",
            action_id=action.id,
        )
    updated: dict[str, Any] | None = None
    if rewrite and isinstance(action, CommandAction):
        ran = result.ran or action.command
        updated = dict(call.tool_input)
        # Gemini merges this over its call; the script's own `cd` (an absolute path) wins
        # over any dir_path it keeps.
        updated[mapped.shell_key] = spec.wrap(ran, cwd=action.cwd, timeout_s=action.timeout_s)
    note = "approved by lockgate"
    if ran_differs(result, action):
        note = f"approved by lockgate after the reviewer edited it to: {result.ran}"
    return Answer("allow", note, updated, action_id=action.id)


def answer_record(
    request: Request, call: ToolCall | None, mapped: Mapped | None, answer: Answer
) -> tuple[dict[str, Any], bool]:
    """The `hook-answer` audit record of an answer, with what it answered, and whether it is
    fsynced: decisions the pipeline never saw (internal tools, refusals, malformed calls, the
    allow-list's) are, the rest ride on its fsynced verdict."""
    data = {
        "agent": request.agent,
        "session_id": call.session_id if call else "",
        "tool_name": call.tool_name if call else str(request.event.get("tool_name", "")),
        "tool_use_id": call.tool_use_id if call else "",
        "permission_mode": str(request.event.get("permission_mode") or ""),
        "kind": mapped.kind if mapped else "malformed",
        "action_ids": [a.id for a in mapped.actions] if mapped else [],
        "decision": answer.decision,
        "reason": answer.reason,
        "updated_input": answer.updated_input,
    }
    # commands, reads, patches and tool calls went through the pipeline's fsynced verdict;
    # network calls the allow-list decided did not
    sync = mapped is None or mapped.kind not in ("command", "read", "patch", "tool")
    return data, sync
