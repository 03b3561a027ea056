"""The fast path of `lockgate hook AGENT` (see `app.cli.FAST_PATHS`): the hook calls an agent
makes — no option, `--timeout S`, `--policy-only`, `--workspace/-w DIR` — run without importing
click. Everything else (`--install`, `--help`, an unknown option, a bad value, a repeated one)
is declined and goes to the click command, which reads it the same way.
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


def _parse(args: list[str]) -> tuple[float | None, bool, str | None] | None:
    """(timeout, policy_only, workspace), or None to decline."""
    timeout: float | None = None
    policy_only = False
    workspace: str | None = None
    seen: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")
        if name in ("--timeout", "--workspace", "-w"):
            key = "-w" if name in ("--workspace", "-w") else name
            if key in seen or (name == "-w" and eq):
                return None
            seen.add(key)
            if eq:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                return None
            if key == "--timeout":
                wait = _wait(["--timeout", value])
                if not isinstance(wait, float):
                    return None
                timeout = wait
            else:
                if not value or value.startswith("-"):
                    return None
                workspace = value
        elif arg == "--policy-only" and not policy_only:
            policy_only = True
        else:
            return None
        i += 1
    return timeout, policy_only, workspace


def _run(agent: str, args: list[str]) -> int | None:
    parsed = _parse(args)
    if parsed is None:
        return None
    timeout, policy_only, workspace = parsed
    if policy_only:
        from app.hooks.policy_only import main as decide_alone

        return decide_alone(agent, workspace)
    from app.hooks.client import main

    return main(agent, timeout)


def claude(args: list[str]) -> int | None:
    return _run("claude", args)


def gemini(args: list[str]) -> int | None:
    return _run("gemini", args)


def codex(args: list[str]) -> int | None:
    return _run("codex", args)
