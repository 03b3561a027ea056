"""The fast path of `lockgate risk` (see `app.cli.FAST_PATHS`): a hook or a script scoring one
command pays no click import (~20 ms).

It reads the options of `risk_cmd.cli` with click's rules for that command (options and the
COMMAND words may interleave; `--` ends the options; `--opt value`, `--opt=value` and `-w DIR`),
and declines anything else: help, an unknown or malformed option, `-wDIR`-style short forms, a
terminal encoding other than UTF-8. It writes each line as click.echo would (ANSI sequences
stripped when the stream is not a terminal). A usage mistake found while scoring (a workspace
that is not a directory, a bad policy file) is also declined, before anything was written, so
click reports it in its own words. tests/oneshot compares both paths byte for byte.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.cli.risk_exec import RiskOptions

VALUE_OPTIONS = frozenset({"--workspace", "-w", "--policy", "--network"})
FLAG_OPTIONS = frozenset({"--json", "--jsonl", "--headless"})
DECLINED_OPTIONS = frozenset({"--help"})

# click._compat._ansi_re (click 8.2+): what click.echo strips from text for a non-terminal
_ANSI = re.compile(r"\033\[[0-?]*[ -/]*[@-~]")


def parse(args: list[str]) -> RiskOptions | None:
    """The `RiskOptions` click would build for `risk ARGS`, or None to leave it to click."""
    values: dict[str, str] = {}
    flags: set[str] = set()
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            words += args[i:]
            break
        if not arg.startswith("-") or arg == "-":
            words.append(arg)  # click reads options after COMMAND words too
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in VALUE_OPTIONS:
            if not eq:
                if i >= len(args):
                    return None
                value = args[i]
                i += 1
            values["--workspace" if name == "-w" else name] = value
        elif name in FLAG_OPTIONS and not eq:
            flags.add(name)
        else:
            return None
    if any(v == "" for v in values.values()):
        return None
    network = values.get("--network", "off")
    if network not in ("off", "allow"):
        return None
    from app.cli.risk_exec import RiskOptions

    ws, policy = values.get("--workspace"), values.get("--policy")
    return RiskOptions(
        workspace=Path(ws) if ws is not None else None,
        policy_file=Path(policy) if policy is not None else None,
        as_json="--json" in flags,
        jsonl="--jsonl" in flags,
        network=network,
        headless="--headless" in flags,
        command=tuple(words),
    )


def _utf8(stream: object) -> bool:
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("_", "-")
    return encoding in ("utf-8", "utf8")


def _echo(text: str, err: bool) -> None:
    stream = sys.stderr if err else sys.stdout
    line = text + "\n"
    try:
        tty = stream.isatty()
    except (OSError, ValueError):
        tty = False
    if not tty:
        line = _ANSI.sub("", line)
    stream.write(line)
    stream.flush()


def run(args: list[str]) -> int | None:
    """`lockgate risk ARGS`, or None when click should handle them. Scoring one COMMAND ends
    the process once the answer is written (see risk_exec)."""
    if not (_utf8(sys.stdout) and _utf8(sys.stderr)):
        return None
    opts = parse(args)
    if opts is None:
        return None
    from app.cli.risk_exec import RiskRefused, score

    try:
        score(opts, _echo)
    except RiskRefused:
        return None  # nothing was written: click says it, in its words
    return 0
