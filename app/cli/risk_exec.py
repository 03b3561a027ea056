"""One `lockgate risk`, without click: the options as a record, and the scoring with its output.
`risk_cmd` (the click command) and `risk_fast` (its fast path in `app.cli.FAST_PATHS`) both end
here, so the two cannot drift apart. See risk_cmd for the command's contract.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from app.cli import exit_now

if TYPE_CHECKING:  # the model and the engine load when something is scored, not for --help
    from app.core.model import Action, Assessment, Decision

# echo(text, err): one line out, as click.echo(text, err=err) writes it
Echo = Callable[[str, bool], None]


class RiskRefused(Exception):
    """A usage mistake (bad workspace, policy file, arguments); one line, exit 2."""


@dataclass(frozen=True)
class RiskOptions:
    workspace: Path | None
    policy_file: Path | None
    as_json: bool
    jsonl: bool
    network: str
    headless: bool
    command: tuple[str, ...]


def _result(a: Assessment, d: Decision) -> dict[str, Any]:
    return {
        "score": a.score,
        "level": a.level.value,
        "decision": d.kind.value,
        "categories": [c.value for c in a.categories],
        "reasons": list(a.reasons),
        "spans": [[s, e] for s, e in a.spans],
    }


def _marker(ch: str) -> str:
    """One visible cell for a character a terminal would hide or obey (so the ^ line stays
    aligned): the console's ⇥ for a tab, the control pictures (␛, ␍, ␡) for the rest of C0 and
    DEL, and � for anything else (bidi overrides, zero-width characters)."""
    code = ord(ch)
    if ch == "\t":
        return "⇥"
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "␡"
    return "\ufffd"


def _underline(text: str, spans: tuple[tuple[int, int], ...]) -> list[str]:
    """The reviewed text with ^ under every character a finding points at (first lines only)."""
    out: list[str] = []
    pos = 0
    for line in text.split("\n")[:12]:
        marks = [" "] * len(line)
        for s, e in spans:
            for i in range(max(s, pos), min(e, pos + len(line))):
                marks[i - pos] = "^"
        shown = "".join(ch if ch.isprintable() else _marker(ch) for ch in line)
        out.append("  " + shown)
        if "^" in marks:
            out.append("  " + "".join(marks).rstrip())
        pos += len(line) + 1
    return out


def score(opts: RiskOptions, echo: Echo) -> None:
    """Score a shell COMMAND (or, with --jsonl, commands and patches from stdin). Raises
    RiskRefused before anything is written. One COMMAND ends the process (`exit_now`)."""
    workspace, policy_file, as_json, jsonl = (
        opts.workspace,
        opts.policy_file,
        opts.as_json,
        opts.jsonl,
    )
    network, headless, command = opts.network, opts.headless, opts.command
    # The engine's imports make many objects and no garbage: the collector's passes over them
    # only cost time (~5 ms of a one-shot `lockgate risk`). A --jsonl stream collects again.
    gc.disable()
    from app.core.model import CommandAction
    from app.core.ports import SessionContext
    from app.risk.engine import RiskEngine
    from app.risk.policy import PolicyError, load_policy

    if jsonl:
        gc.enable()

    ws = (workspace or Path.cwd()).expanduser()
    if not ws.is_dir():
        raise RiskRefused(f"workspace {ws} is not a directory")
    if policy_file is not None and not policy_file.is_file():
        raise RiskRefused(f"policy file {policy_file} not found")
    if jsonl and command:
        raise RiskRefused("give either --jsonl (commands on stdin) or a COMMAND, not both")
    if not jsonl and not command:
        raise RiskRefused('nothing to score: lockgate risk -- "COMMAND" (or --jsonl)')
    engine = RiskEngine(warm=False)
    try:
        policy = load_policy(ws, policy_file=policy_file, headless=headless, engine=engine)
    except PolicyError as exc:
        raise RiskRefused(str(exc)) from exc
    for w in policy.warnings:
        echo(f"lockgate: warning: {w}", True)
    ctx = SessionContext(
        workspace=ws.resolve(), network="allow" if network == "allow" else "off", headless=headless
    )

    def judge(action: Action) -> tuple[Assessment, Decision]:
        a = engine.assess(action, ctx)
        return a, policy.decide(action, a)

    if jsonl:
        _stream(sys.stdin.buffer, sys.stdout, judge)
        return
    text = command[0] if len(command) == 1 else " ".join(command)
    a, d = judge(CommandAction(text, "cli"))
    if as_json:
        echo(json.dumps(_result(a, d), ensure_ascii=False), False)
        exit_now(0)
    rule = f" [{d.rule}]" if d.rule else ""
    echo(f"{a.level.value} (score {a.score}) — {d.kind.value}{rule}", False)
    if d.reason and d.kind.value != "allow":
        echo(f"  policy: {d.reason}", False)
    for line in _underline(text, a.spans):
        echo(line, False)
    for f in a.findings:
        echo(f"  • [{f.category.value} {f.score}] {f.reason}", False)
    if not a.findings:
        echo("  • nothing to worry about: read-only or contained in the workspace", False)
    exit_now(0)  # everything is written: skip the interpreter's teardown (~8 ms)


def _stream(src: IO[bytes], out: IO[str], judge: Any) -> None:
    for n, raw in enumerate(src, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            _emit(out, {"error": f"line {n}: not UTF-8"})
            continue
        action = _action(line, n)
        if isinstance(action, str):
            _emit(out, {"error": action})
            continue
        try:
            a, d = judge(action)
        except Exception as exc:  # one bad item must not end the stream; fail closed for it
            _emit(out, {"error": f"line {n}: could not assess: {type(exc).__name__}: {exc}"})
            continue
        _emit(out, _result(a, d))


def _action(line: str, n: int) -> Action | str:
    from app.core.model import CommandAction, PatchAction

    if not line.strip():
        return f"line {n}: empty line"
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        return f"line {n}: not JSON ({exc.msg if hasattr(exc, 'msg') else 'too deep'})"
    if not isinstance(obj, dict):
        return f'line {n}: expected an object with "command" or "patch"'
    has_c, has_p = "command" in obj, "patch" in obj
    if has_c == has_p:
        return f'line {n}: expected exactly one of "command" or "patch"'
    value = obj["command"] if has_c else obj["patch"]
    if not isinstance(value, str):
        return f'line {n}: "{"command" if has_c else "patch"}" must be a string'
    return CommandAction(value, "jsonl") if has_c else PatchAction(value, "jsonl")


def _emit(out: IO[str], obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()
