"""The `lockgate` command. Subcommands live one module each and are imported only when used,
so `lockgate risk` never pays for Textual and `lockgate --help` stays fast.

Commands other programs call once per action (`lockgate sandbox run` from an agent's hook, the
hook itself) may also register a *fast path* in `FAST_PATHS`: a function that handles exactly
the arguments it fully understands, without importing click (~20 ms of a cold start), and
declines everything else (help, errors, rare options), which click then handles as always.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.cli.group import LazyGroup, UserError, cli

# name -> (module, one-line help). Each module defines a click command or group called `cli`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "app.cli.demo_cmd",
        "Open the console on the embedded demo session (no key, no network).",
    ),
    "run": ("app.cli.run_cmd", "Run a live agent (OpenAI or compatible) under review."),
    "sandbox": (
        "app.cli.sandbox_cmd",
        "Check what this kernel gives the sandbox; run one command in it.",
    ),
    "risk": ("app.cli.risk_cmd", "Score commands and patches the way the console does."),
    "patch": ("app.cli.patch_cmd", "Check, apply and undo V4A or unified patches in a workspace."),
    "log": ("app.cli.log_cmd", "Show, verify and export audit logs."),
    "serve": ("app.cli.serve_cmd", "Open the console as the reviewer for agents with hooks."),
    "hook": (
        "app.cli.hook_cmd",
        "The hook agents run before each tool call (claude, gemini, codex).",
    ),
    "acp": ("app.cli.acp_cmd", "Review any ACP agent (Gemini CLI, Codex, Claude Code …), jailed."),
    "deps": (
        "app.cli.deps_cmd",
        "Check packages against their registries (missing, new, quarantined).",
    ),
    "scan": ("app.cli.scan_cmd", "Look for prompt injection in a tool output (exit 1 if found)."),
}

# argv prefix -> "module:function". The function gets the arguments after the prefix and
# returns the exit status, or None to decline: it must accept only what the click command
# would run the same way (same options, same meaning), and leave help and every error to click.
FAST_PATHS: dict[tuple[str, ...], str] = {
    ("sandbox", "run"): "app.cli.sandbox_fast:run",
    ("hook", "claude"): "app.hooks.fast:claude",
    ("hook", "gemini"): "app.hooks.fast:gemini",
    ("hook", "codex"): "app.hooks.fast:codex",
}


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    fast = _fast_path(args)
    if fast is not None:
        try:
            status = fast()
        except KeyboardInterrupt:
            sys.stderr.write("lockgate: interrupted\n")
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(141)
        if status is not None:
            sys.exit(status)
    from app.cli.group import run

    run(argv)


def _fast_path(args: list[str]) -> Callable[[], int | None] | None:
    for prefix, target in FAST_PATHS.items():
        if tuple(args[: len(prefix)]) == prefix:
            module, _, name = target.partition(":")
            fn: Callable[[list[str]], int | None] = getattr(importlib.import_module(module), name)
            rest = args[len(prefix) :]
            return lambda: fn(rest)
    return None


def __getattr__(name: str) -> Any:
    # `from app.cli import UserError` (every subcommand module) loads the click side on demand
    if name in ("LazyGroup", "UserError", "cli"):
        from app.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FAST_PATHS", "SUBCOMMANDS", "LazyGroup", "UserError", "cli", "main"]
