"""`lockgate run` in a real terminal (tmux) against a loopback port nobody listens on (#18.16):
the refusal shows at once in the console (no 40 s of retries behind "Nothing to review yet."),
and `q` exits 1 with the reason on stderr."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fake_openai import free_port

pytestmark = pytest.mark.tmux

REPO = Path(__file__).resolve().parents[2]


def _screen(tmux: list[str], name: str) -> str:
    return subprocess.run(
        [*tmux, "capture-pane", "-t", name, "-p"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.timeout(120)
def test_refused_base_url_fails_fast_in_the_console_and_q_says_why(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    port = free_port()
    rc = tmp_path / "rc.txt"
    lockgate = shlex.join(
        [
            sys.executable,
            "-m",
            "app",
            "run",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "-w",
            str(ws),
            "say hi",
        ]
    )
    # Textual draws on stderr, so the message is read back from the terminal after the exit.
    script = f"cd {shlex.quote(str(REPO))} && {lockgate}; echo $? >{rc}; sleep 60"
    name = f"lg-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", name, "-f", "/dev/null"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TMUX"))}
    env["TERM"] = "xterm-256color"
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", name, "-x", "160", "-y", "48", "sh", "-c", script],
        check=True,
        env=env,
    )
    try:
        started = time.monotonic()
        screen = ""
        while "connection refused" not in screen:
            assert time.monotonic() - started < 30, f"no refusal shown; the terminal:\n{screen}"
            time.sleep(0.2)
            screen = _screen(tmux, name)
        assert time.monotonic() - started < 20  # well under the old ~40 s of retries
        assert "retrying" not in screen
        subprocess.run([*tmux, "send-keys", "-t", name, "q"], check=True)
        deadline = time.monotonic() + 30
        while not rc.exists() or not rc.read_text().strip():
            assert time.monotonic() < deadline, (
                f"q did not quit; the terminal:\n{_screen(tmux, name)}"
            )
            time.sleep(0.2)
        after = " ".join(_screen(tmux, name).split())
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert rc.read_text().strip() == "1"
    assert (
        f"lockgate: the agent stopped on an error: cannot connect to http://127.0.0.1:{port}/v1: "
        "connection refused" in after
    )
