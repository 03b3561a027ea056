"""The headless runner: a transcript a human can read, terminal-safe, and Ctrl-C that stops cleanly."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from linkkit import pipeline_for

from app.agent.scripted import ScriptedLink, parse_script
from app.cli.run_cmd import EXIT_CANCELLED, EXIT_OK, run_headless

ROOT = Path(__file__).resolve().parents[2]


async def test_transcript_of_a_scripted_session(workspace: Path) -> None:
    (workspace / "a.py").write_text("x = 1\n")
    script = parse_script({
        "task": "t",
        "step": [
            {"say": "Reading.\x1b]0;pwned\x07", "commands": ["cat a.py", "rm -rf a.py"]},
            {"say": "Patching.", "patch": "*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n", "on_denied": "sorry"},
            {"id": "sorry", "branch": True, "say": "OK, leaving a.py as it is."},
        ],
    })  # fmt: skip
    out = io.StringIO()
    code = await run_headless(
        pipeline_for(workspace, headless=True), ScriptedLink(script, pace=0), out=out
    )
    text = out.getvalue()
    assert code == EXIT_OK
    assert "\x1b" not in text and "\x07" not in text
    assert "agent: Reading." in text
    assert "→ $ cat a.py" in text and "  policy: allow [test:safe]" in text
    assert "  │ x = 1" in text
    assert "→ $ rm -rf a.py" in text and "denied by policy (core:headless)" in text
    assert "→ patch: Update File: a.py" in text
    assert "agent: OK, leaving a.py as it is." in text
    assert text.rstrip().endswith("[done]")
    assert (workspace / "a.py").read_text() == "x = 1\n"


async def test_sigint_cancels_and_exits_130(workspace: Path) -> None:
    script = parse_script(
        {"task": "t", "step": [{"say": "wait", "pause": 30}, {"commands": ["echo never"]}]}
    )
    out = io.StringIO()
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, os.kill, os.getpid(), signal.SIGINT)
    code = await asyncio.wait_for(
        run_headless(pipeline_for(workspace, headless=True), ScriptedLink(script, pace=1), out=out),
        10,
    )
    assert code == EXIT_CANCELLED
    assert "[cancelled]" in out.getvalue()
    assert "echo never" not in out.getvalue()


def _lockgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_without_a_key_says_how_to_set_one(tmp_path: Path) -> None:
    proc = _lockgate("run", "--workspace", str(tmp_path), "fix it")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "OPENAI_API_KEY" in lines[0] and "lockgate demo" in lines[0]
    assert "Traceback" not in proc.stderr


def test_run_usage_mistakes_are_one_line(tmp_path: Path) -> None:
    proc = _lockgate(
        "run",
        "--workspace",
        str(tmp_path),
        "--base-url",
        "ftp://x",
        "t",
        env={"OPENAI_API_KEY": "sk-x"},
    )
    assert proc.returncode == 2 and "must start with http" in proc.stderr
    proc = _lockgate("run", "--workspace", str(tmp_path / "missing"), "t")
    assert proc.returncode == 2 and "not a directory" in proc.stderr
    proc = _lockgate("run", "--allow-domain", "pypi.org", "t")
    assert proc.returncode == 2 and "needs --network allow" in proc.stderr


def test_demo_with_a_broken_script_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text("task = 'x'\n[[step]]\nsay = 'hi'\nrun = 'ls'\n")
    proc = _lockgate("demo", "--headless", "--script", str(bad))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"lockgate: {bad}: step 1: unknown key 'run' (known: "
        + ", ".join(
            sorted(
                {
                    "id",
                    "say",
                    "think",
                    "commands",
                    "patch",
                    "patches",
                    "on_denied",
                    "on_failed",
                    "on_ok",
                    "next",
                    "branch",
                    "end",
                    "pause",
                }
            )
        )
        + ")"
    )


def test_an_interrupted_session_is_not_resumed_without_someone_to_ask(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli.run_cmd import _ask_resume

    class Recovery:
        def summary(self) -> str:
            return "2 pending, 1 finished, 0 interrupted"

    class Candidate:
        session_id = "session-abc"
        started = 0.0
        recovery = Recovery()

    assert _ask_resume([], interactive=True) is None
    assert _ask_resume([Candidate()], interactive=False) is None  # type: ignore[list-item]
    err = capsys.readouterr().err
    assert "session session-abc" in err and "2 pending" in err and "not resumed" in err


async def test_a_second_sigint_stops_waiting_for_a_stuck_cancel() -> None:
    class StuckPipeline:
        """Runs a link but never finishes cancelling (a command that will not die)."""

        def add_observer(self, observer: object) -> None:
            return None

        async def run(self, link: object) -> None:
            await asyncio.Event().wait()

        async def cancel(self) -> None:
            await asyncio.Event().wait()

    script = parse_script({"task": "t", "step": [{"say": "hi"}]})
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, os.kill, os.getpid(), signal.SIGINT)
    loop.call_later(0.5, os.kill, os.getpid(), signal.SIGINT)
    code = await asyncio.wait_for(
        run_headless(StuckPipeline(), ScriptedLink(script, pace=0), out=io.StringIO()), 5
    )
    assert code == EXIT_CANCELLED


def test_print_script_gives_a_playable_starting_point(tmp_path: Path) -> None:
    from app.agent.scripted import bundled_script, load_script

    proc = _lockgate("demo", "--print-script")
    assert proc.returncode == 0 and "The format" in proc.stdout
    mine = tmp_path / "mine.toml"
    mine.write_text(proc.stdout)
    assert load_script(mine).steps == load_script(bundled_script()).steps
