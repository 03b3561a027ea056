"""What an agent's tool call is, in lockgate's terms: a command, a read, a patch, a network
request or some other tool — and how an approved shell command is moved into the sandbox.

Reads (`Read`, `Grep`, `Glob`, `LS` and Gemini's equivalents) become the shell command that
would do the same (`cat -- PATH`, `grep -rn …`, `find …`), so the risk engine and policy judge
them exactly like `cat`: a read of `~/.ssh/id_rsa` is denied, `.env` is asked. The agent still
performs the read itself; the command text is what the reviewer is shown, with the tool named
in the justification. Edits become a unified diff computed from the file as it is now.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from app.core.model import Action, CommandAction, NetworkAction, PatchAction, new_id

Kind = Literal["command", "read", "patch", "network", "tool", "internal", "refuse"]

GENERIC_PREFIX = "tool"  # ids of "other tool" actions: asked unless a rule allows them
MAX_FILE_BYTES = 4 << 20  # a larger file is not diffed for review: the edit is refused

# Tools that touch nothing outside the agent itself (plans, todo lists, questions to the user,
# sub-agents whose own tool calls come through the hook again). Allowed, and audited.
INTERNAL: dict[str, frozenset[str]] = {
    "claude": frozenset(
        {
            "TodoWrite",
            "Task",
            "Agent",
            "ExitPlanMode",
            "EnterPlanMode",
            "BashOutput",
            "KillShell",
            "KillBash",
            "AskUserQuestion",
            # Claude Code 2.1.x: loading deferred tool definitions, listing sub-agents,
            # reporting results, loading a skill's instructions (what a skill then does comes
            # through the hook as its own calls)
            "ToolSearch",
            "ListAgents",
            "ReportFindings",
            "Skill",
        }
    ),
    "gemini": frozenset({"write_todos", "ask_user", "enter_plan_mode", "exit_plan_mode"}),
    "codex": frozenset({"update_plan", "request_user_input"}),
}


class MappingError(ValueError):
    """The tool call cannot be understood; the message is the denial's reason."""


@dataclass(frozen=True)
class ToolCall:
    """The part of an agent's hook event lockgate reads."""

    agent: str
    session_id: str
    cwd: str
    tool_name: str
    tool_input: Mapping[str, Any]
    tool_use_id: str = ""

    @classmethod
    def from_event(cls, agent: str, event: Mapping[str, Any]) -> ToolCall:
        name = event.get("tool_name")
        tool_input = event.get("tool_input", {})
        if not isinstance(name, str) or not name:
            raise MappingError("the hook event names no tool (tool_name)")
        if not isinstance(tool_input, dict):
            raise MappingError("the hook event's tool_input is not an object")
        sid = event.get("session_id")
        cwd = event.get("cwd")
        return cls(
            agent=agent,
            session_id=sid if isinstance(sid, str) and sid else "unknown",
            cwd=cwd if isinstance(cwd, str) else "",
            tool_name=name,
            tool_input=tool_input,
            tool_use_id=str(event.get("tool_use_id") or ""),
        )


@dataclass(frozen=True)
class Mapped:
    """One tool call in lockgate's terms. `actions` are reviewed in order (a Gemini web_fetch
    may name several hosts); `shell_key` names the input field a sandboxed command replaces."""

    kind: Kind
    actions: tuple[Action, ...] = ()
    shell_key: str = ""
    reason: str = ""  # for internal (allow) and refuse (deny)
    label: str = ""  # "Bash", "Read" …: what the reviewer is told the agent will do
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- per agent

_SHELL = {
    "claude": {"Bash"},
    "gemini": {"run_shell_command"},
    "codex": {"Bash", "shell", "exec_command", "local_shell", "container.exec"},
}
_WRITE = {"claude": {"Write"}, "gemini": {"write_file"}, "codex": set()}
_EDIT = {"claude": {"Edit"}, "gemini": {"replace"}, "codex": set()}
_READ = {"claude": {"Read", "NotebookRead"}, "gemini": {"read_file"}, "codex": set()}
_GREP = {"claude": {"Grep"}, "gemini": {"grep_search", "search_file_content"}, "codex": set()}
_GLOB = {"claude": {"Glob"}, "gemini": {"glob"}, "codex": set()}
_LS = {"claude": {"LS"}, "gemini": {"list_directory"}, "codex": set()}
_FETCH = {"claude": {"WebFetch"}, "gemini": {"web_fetch"}, "codex": set()}


def map_call(call: ToolCall, *, workspace: Path, turn_id: str) -> Mapped:
    """Raises MappingError for a call that names a tool lockgate knows but is malformed."""
    agent, name, args = call.agent, call.tool_name, call.tool_input
    why = f"{_agent_title(agent)} {name}"
    if name in INTERNAL.get(agent, frozenset()):
        return Mapped("internal", reason=f"{name} changes nothing outside the agent", label=name)
    cwd = _cwd(call.cwd, workspace)
    if name in _SHELL[agent]:
        command = args.get("command")
        if isinstance(command, list) and all(isinstance(w, str) for w in command):
            command = shlex.join(command)
        if not isinstance(command, str) or not command.strip():
            raise MappingError(f"{name} without a command")
        where = args.get("dir_path") or args.get("workdir")  # Gemini CLI, Codex
        if isinstance(where, str) and where:
            target = os.path.join(call.cwd or str(workspace), where)
            real = Path(os.path.realpath(target))
            if real != workspace and workspace not in real.parents:
                return Mapped(
                    "refuse",
                    reason=f"lockgate: {name} in {where} is outside the workspace {workspace}; "
                    "denied",
                    label=name,
                )
            cwd = _cwd(str(real), workspace)
        desc = args.get("description")
        justification = f"{why}" + (f": {desc}" if isinstance(desc, str) and desc else "")
        action = CommandAction(
            command=command,
            turn_id=turn_id,
            cwd=cwd,
            justification=justification,
            call_id=call.tool_use_id,
            timeout_s=_timeout_s(args.get("timeout")),
        )
        return Mapped("command", (action,), shell_key="command", label=name)
    if agent == "codex" and name == "apply_patch":
        text = args.get("command") or args.get("input") or args.get("patch")
        if not isinstance(text, str) or not text.strip():
            raise MappingError("apply_patch without a patch")
        patch = PatchAction(
            patch=text, turn_id=turn_id, justification=why, call_id=call.tool_use_id
        )
        return Mapped("patch", (patch,), label=name)
    if name in _WRITE[agent] or name in _EDIT[agent] or (agent == "claude" and name == "MultiEdit"):
        return _edit(call, workspace, turn_id, why)
    read = _read_command(call, workspace)
    if read is not None:
        action = CommandAction(
            command=read,
            turn_id=turn_id,
            cwd=cwd,
            justification=f"{why} (the agent reads it itself; shown as the equivalent command)",
            call_id=call.tool_use_id,
        )
        return Mapped("read", (action,), label=name)
    if name in _FETCH[agent]:
        return _fetch(call, turn_id)
    return _generic(call, turn_id, why)


def _agent_title(agent: str) -> str:
    return {"claude": "Claude Code", "gemini": "Gemini CLI", "codex": "Codex"}.get(agent, agent)


def _cwd(cwd: str, workspace: Path) -> str | None:
    if not cwd:
        return None
    real = Path(os.path.realpath(cwd))
    if real == workspace:
        return None
    if workspace in real.parents:
        return str(real.relative_to(workspace))
    return None


def _timeout_s(value: object) -> float | None:
    """Claude's Bash timeout is in milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value) / 1000.0
    return None


def _path_arg(args: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _read_command(call: ToolCall, workspace: Path) -> str | None:
    agent, name, args = call.agent, call.tool_name, call.tool_input
    base = call.cwd or str(workspace)

    def where(p: str | None) -> str:
        return p if p is not None else base

    q = _quote_path
    if name in _READ[agent]:
        path = _path_arg(args, "file_path", "absolute_path", "notebook_path", "path")
        if path is None:
            raise MappingError(f"{name} without a file_path")
        return f"cat -- {q(path)}"
    if agent == "gemini" and name == "read_many_files":
        paths = args.get("include") or args.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths) or not paths:
            raise MappingError("read_many_files without paths")
        return "cat -- " + " ".join(q(p) for p in paths)
    if name in _GREP[agent]:
        pattern = args.get("pattern")
        if not isinstance(pattern, str):
            raise MappingError(f"{name} without a pattern")
        path = where(_path_arg(args, "path", "dir_path"))
        include = _path_arg(args, "glob", "include")
        inc = f" --include={shlex.quote(include)}" if include else ""
        return f"grep -rn{inc} -e {shlex.quote(pattern)} -- {q(path)}"
    if name in _GLOB[agent]:
        pattern = args.get("pattern")
        if not isinstance(pattern, str):
            raise MappingError(f"{name} without a pattern")
        path = where(_path_arg(args, "path", "dir_path"))
        return f"find {q(path)} -path {shlex.quote(pattern)}"
    if name in _LS[agent]:
        path = where(_path_arg(args, "path", "dir_path"))
        return f"ls -la -- {q(path)}"
    return None


def _quote_path(path: str) -> str:
    """Quoted for the shell, but a leading `~/` stays a home path (the tools expand it too)."""
    if path == "~" or path.startswith("~/"):
        rest = path[2:]
        return "~/" + shlex.quote(rest) if rest else "~"
    return shlex.quote(path)


_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


def _fetch(call: ToolCall, turn_id: str) -> Mapped:
    args = call.tool_input
    url = args.get("url")
    urls = [url] if isinstance(url, str) and url else _URL.findall(str(args.get("prompt", "")))
    if not urls:
        raise MappingError(f"{call.tool_name} names no http(s) URL")
    actions: list[Action] = []
    for u in urls[:8]:
        try:
            parts = urlsplit(u)
            port = parts.port
        except ValueError:
            raise MappingError(f"{call.tool_name}: {u!r} is not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise MappingError(f"{call.tool_name}: {u!r} is not an http(s) URL")
        actions.append(
            NetworkAction(
                host=parts.hostname,
                port=port or (443 if scheme == "https" else 80),
                turn_id=turn_id,
                method="GET",
                scheme="https" if scheme == "https" else "http",
                program=f"{call.tool_name} ({_agent_title(call.agent)})",
            )
        )
    return Mapped("network", tuple(actions), label=call.tool_name)


def _generic(call: ToolCall, turn_id: str, why: str) -> Mapped:
    """MCP tools and anything else: shown with the JSON input, asked unless a rule allows the
    tool by name (a rule `command = ["mcp__server__tool", "*"]`)."""
    body = json.dumps(dict(call.tool_input), sort_keys=True, ensure_ascii=False, indent=None)
    action = CommandAction(
        command=shlex.join([call.tool_name, body]),
        turn_id=turn_id,
        id=new_id(GENERIC_PREFIX),
        justification=f"{why}: a tool call the agent performs itself (its JSON input is shown)",
        call_id=call.tool_use_id,
    )
    return Mapped("tool", (action,), label=call.tool_name)


# --------------------------------------------------------------------------- edits → diff


def _edit(call: ToolCall, workspace: Path, turn_id: str, why: str) -> Mapped:
    args = call.tool_input
    path = _path_arg(args, "file_path", "absolute_path", "path")
    if path is None:
        raise MappingError(f"{call.tool_name} without a file_path")
    target = Path(path) if os.path.isabs(path) else Path(call.cwd or workspace) / path
    real = Path(os.path.realpath(target))
    if real != workspace and workspace not in real.parents:
        return Mapped(
            "refuse",
            reason=f"lockgate: {call.tool_name} of {path} is outside the workspace {workspace}; "
            "only files inside it can be reviewed, so the write is denied",
            label=call.tool_name,
        )
    rel = str(real.relative_to(workspace))
    old = _current_text(real)
    new = _new_text(call, old)
    if isinstance(new, Refusal):
        return Mapped("refuse", reason=f"lockgate: {new.reason}; denied", label=call.tool_name)
    diff = unified_diff(rel, old, new)
    if not diff:
        return Mapped(
            "internal", reason=f"{call.tool_name} leaves {rel} as it is", label=call.tool_name
        )
    action = PatchAction(
        patch=diff,
        turn_id=turn_id,
        format="unified",
        justification=f"{why} of {rel} (the agent writes the file itself)",
        call_id=call.tool_use_id,
    )
    return Mapped("patch", (action,), label=call.tool_name, extra={"path": rel})


@dataclass(frozen=True)
class Refusal:
    reason: str


def _current_text(path: Path) -> str | None:
    """The file's text now; None if it does not exist. Refuses what cannot be shown as text."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise MappingError(f"{path} is a directory") from None
    except OSError as exc:
        raise MappingError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise MappingError(f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB: too big to review")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MappingError(f"{path} is not UTF-8 text: it cannot be shown as a diff") from None


def _replace(text: str, old: str, new: str, every: bool, count: int | None) -> str | Refusal:
    if old == "":
        return Refusal("the edit's old_string is empty but the file exists")
    n = text.count(old)
    if n == 0:
        return Refusal("the edit does not apply: old_string is not in the file")
    if count is not None and n != count:
        return Refusal(f"the edit expects {count} occurrence(s) of old_string, the file has {n}")
    if n > 1 and not every and count is None:
        return Refusal(f"the edit is ambiguous: old_string occurs {n} times")
    return text.replace(old, new) if (every or count) else text.replace(old, new, 1)


def _new_text(call: ToolCall, old: str | None) -> str | Refusal:
    args, name = call.tool_input, call.tool_name
    if name in _WRITE[call.agent]:
        content = args.get("content")
        if not isinstance(content, str):
            raise MappingError(f"{name} without text content")
        return content
    edits: list[Mapping[str, Any]]
    if name == "MultiEdit":
        raw = args.get("edits")
        if not isinstance(raw, list) or not raw or not all(isinstance(e, dict) for e in raw):
            raise MappingError("MultiEdit without edits")
        edits = raw
    else:
        edits = [args]
    text = old
    for e in edits:
        o, n = e.get("old_string"), e.get("new_string")
        if not isinstance(o, str) or not isinstance(n, str):
            raise MappingError(f"{name} without old_string/new_string")
        if text is None:
            if o != "":
                return Refusal(f"{name}: the file does not exist")
            text = n  # Claude's Edit with an empty old_string creates the file
            continue
        every = bool(e.get("replace_all") or e.get("allow_multiple"))
        count = e.get("expected_replacements")
        result = _replace(text, o, n, every, count if isinstance(count, int) else None)
        if isinstance(result, Refusal):
            return result
        text = result
    assert text is not None
    return text


def unified_diff(rel: str, old: str | None, new: str) -> str:
    """A git-style unified diff of one file ('' when nothing changes)."""
    if old == new:
        return ""
    import difflib  # edits only: ~2 ms a shell command's hook call never pays

    a = (old or "").splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    head = [f"diff --git a/{rel} b/{rel}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    lines = list(
        difflib.unified_diff(
            a, b, "/dev/null" if old is None else f"a/{rel}", f"b/{rel}", lineterm="\n"
        )
    )
    if not lines:
        return ""
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(head + out)
