"""`lockgate hook AGENT --install`: add lockgate to the agent's settings file, merging into
what is there (other hooks, permissions, everything else stays) and never writing over a file
it cannot read. The caller shows the diff before anything is written.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Scope = Literal["project", "user"]
HOOK_TIMEOUT_S = 600  # Claude Code's default; the client waits 10 s less (DEFAULT_WAIT_S)


class InstallError(Exception):
    """The settings file cannot be merged safely; one line."""


@dataclass(frozen=True)
class Plan:
    path: Path
    before: str  # '' when the file does not exist
    after: str

    @property
    def changes(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                f"a/{self.path}" if self.before else "/dev/null",
                f"b/{self.path}",
            )
        )


def settings_path(agent: str, scope: Scope, workspace: Path, home: Path) -> Path:
    """Claude Code: `.claude/settings.json`; Gemini CLI: `.gemini/settings.json`; Codex:
    `.codex/hooks.json` (user scope: `$CODEX_HOME/hooks.json`, default `~/.codex`)."""
    if agent == "codex" and scope == "user" and os.environ.get("CODEX_HOME"):
        return Path(os.environ["CODEX_HOME"]) / "hooks.json"
    root = workspace if scope == "project" else home
    name = {
        "claude": ".claude/settings.json",
        "gemini": ".gemini/settings.json",
        "codex": ".codex/hooks.json",
    }.get(agent)
    if name is None:
        raise InstallError(f"--install does not know {agent}'s settings file")
    return root / name


def hook_command(launcher: tuple[str, ...], agent: str, wait_s: float | None = None) -> str:
    """The command the agent runs. `|| exit 2`: an agent treats any other failure exit (a
    missing binary is 127) as "no opinion" and goes on; 2 blocks the call."""
    words = [*launcher, "hook", agent]
    if wait_s is not None:
        words += ["--timeout", f"{wait_s:g}"]
    return f"{shlex.join(words)} || exit 2"


def plan_install(agent: str, path: Path, command: str) -> Plan:
    before = ""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            before = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InstallError(f"{path}: cannot read it ({exc})") from None
        if before.strip():
            try:
                loaded = json.loads(before)
            except ValueError as exc:
                raise InstallError(
                    f"{path}: not valid JSON ({exc}); fix it first, lockgate never overwrites it"
                ) from None
            if not isinstance(loaded, dict):
                raise InstallError(f"{path}: not a JSON object; lockgate never overwrites it")
            data = loaded
    hooks = data.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise InstallError(f'{path}: its "hooks" is not an object')
    event = "BeforeTool" if agent == "gemini" else "PreToolUse"
    groups = hooks.setdefault(event, [])
    if not isinstance(groups, list):
        raise InstallError(f"{path}: its hooks.{event} is not a list")
    for group in groups:
        for hook in group.get("hooks", []) if isinstance(group, dict) else []:
            if isinstance(hook, dict) and _is_lockgate(hook.get("command"), agent):
                hook["command"] = command  # already there: keep its place, refresh the path
                return _plan(path, before, data)
    entry: dict[str, Any] = {"type": "command", "command": command}
    if agent == "claude":
        entry["timeout"] = HOOK_TIMEOUT_S
        groups.append({"matcher": "*", "hooks": [entry]})
    elif agent == "codex":
        entry["timeout"] = HOOK_TIMEOUT_S  # seconds; no matcher: every tool
        groups.append({"hooks": [entry]})
    else:
        entry["name"] = "lockgate"
        entry["timeout"] = HOOK_TIMEOUT_S * 1000  # Gemini CLI counts milliseconds
        groups.append({"matcher": ".*", "hooks": [entry]})
    return _plan(path, before, data)


def _is_lockgate(command: object, agent: str) -> bool:
    return isinstance(command, str) and f" hook {agent}" in command and "lockgate" in command


def _plan(path: Path, before: str, data: dict[str, Any]) -> Plan:
    return Plan(path, before, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write(plan: Plan) -> None:
    """Atomically: a temp file in the same directory, renamed over the settings file."""
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    mode = plan.path.stat().st_mode & 0o777 if plan.path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".lockgate-", dir=plan.path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(plan.after)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, plan.path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
