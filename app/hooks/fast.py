"""The fast path of `lockgate hook AGENT` (see `app.cli.FAST_PATHS`): the plain hook call, with
no option or only `--timeout S`, runs the standard-library client without importing click.
Everything else (`--policy-only`, `--install`, `--help`, a bad value) is declined and goes to
the click command, which reads it the same way.
"""

from __future__ import annotations


def _wait(args: list[str]) -> float | bool | None:
    """The --timeout value; None when absent; False to decline."""
    if not args:
        return None
    if len(args) == 1 and args[0].startswith("--timeout="):
        text = args[0].split("=", 1)[1]
    elif len(args) == 2 and args[0] == "--timeout":
        text = args[1]
    else:
        return False
    try:
        value = float(text)
    except ValueError:
        return False
    if not value >= 0.1 or value == float("inf"):  # click's FloatRange(min=0.1); NaN fails too
        return False
    return value


def _run(agent: str, args: list[str]) -> int | None:
    wait = _wait(args)
    if wait is False:
        return None
    from app.hooks.client import main

    return main(agent, wait if isinstance(wait, float) else None)


def claude(args: list[str]) -> int | None:
    return _run("claude", args)


def gemini(args: list[str]) -> int | None:
    return _run("gemini", args)


def codex(args: list[str]) -> int | None:
    return _run("codex", args)
