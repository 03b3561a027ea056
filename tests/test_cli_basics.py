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


def test_every_workspace_option_has_the_short_flag() -> None:
    """`-w` works wherever `--workspace` does (#18.18)."""
    import importlib

    import click

    from app.cli import SUBCOMMANDS

    def commands(cmd: click.Command, path: str) -> list[tuple[str, click.Command]]:
        out = [(path, cmd)]
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                out += commands(sub, f"{path} {name}")
        return out

    missing = []
    for name in SUBCOMMANDS:
        top = importlib.import_module(SUBCOMMANDS[name][0]).cli
        for path, cmd in commands(top, name):
            for param in cmd.params:
                if "--workspace" in getattr(param, "opts", ()) and "-w" not in param.opts:
                    missing.append(path)
    assert missing == []


def test_patch_transcript_names_the_files_in_one_line() -> None:
    from app.cli.run_cmd import patch_files

    report = "Success. Updated the following files:\nA test_hello.py\nM app.py"
    assert patch_files(report) == "A test_hello.py, M app.py"
    assert patch_files("", ("x.py",)) == "x.py"
