"""The CLI's contract: subcommands listed, user mistakes are one line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys


def _lockgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_subcommand() -> None:
    r = _lockgate("--help")
    assert r.returncode == 0
    for name in ("demo", "run", "sandbox", "risk", "patch", "log"):
        assert f"  {name} " in r.stdout


def test_unknown_subcommand_is_one_line_error() -> None:
    r = _lockgate("frobnicate")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("lockgate: ")


def test_click_exit_codes_reach_the_shell() -> None:
    """`ctx.exit(n)` inside a subcommand must become the process's exit status."""
    r = _lockgate("log", "verify", "/nonexistent/lockgate-audit.jsonl")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
