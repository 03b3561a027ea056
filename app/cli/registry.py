"""The subcommand table and the fast paths, apart from `app.cli` so that the click side
(`app.cli.group`) can read them without importing the package that imports it (no import circle).
`app.cli` re-exports both names; add a subcommand here."""

from __future__ import annotations

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
# LOCKGATE_NO_FAST_PATH=1 sends everything through click (troubleshooting; tests compare both).
FAST_PATHS: dict[tuple[str, ...], str] = {
    ("sandbox", "run"): "app.cli.sandbox_fast:run",
    ("risk",): "app.cli.risk_fast:run",
    ("hook", "claude"): "app.hooks.fast:claude",
    ("hook", "gemini"): "app.hooks.fast:gemini",
    ("hook", "codex"): "app.hooks.fast:codex",
}
