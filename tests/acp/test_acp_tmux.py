"""`lockgate acp -- python scripted_agent.py` in a real terminal (tmux): the task typed at the
prompt, a permission request answered with feedback, a terminal command denied, `q` at the end.
Everything is real: the jail, the sandbox, the risk engine, the patch engine, the console."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from acpkit import AGENT, ROOT

pytestmark = [pytest.mark.tmux, pytest.mark.sandbox]
QUEUE_WIDTH = 72


class Terminal:
    def __init__(self, name: str) -> None:
        self.name = name
        self.tmux = ["tmux", "-L", name, "-f", "/dev/null"]

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-t", self.name, "-p"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run([*self.tmux, "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, "-l", text], check=True)
        time.sleep(0.15)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 40) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"never saw {what}; the terminal shows:\n{self.screen()}")


def _row(screen: str, text: str) -> str:
    rows = (line[:QUEUE_WIDTH] for line in screen.splitlines()[1:])
    return next((row for row in rows if text in row), "")


def _shown(text: str) -> Callable[[str], bool]:
    return lambda screen: any(text in line[QUEUE_WIDTH:] for line in screen.splitlines()[1:])


@pytest.fixture
def terminal(gitws: Path) -> Iterator[tuple[Terminal, Path]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    name = f"lockgate-acp-{uuid.uuid4().hex[:8]}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "LOCKGATE_CONFIG_DIR": os.environ["LOCKGATE_CONFIG_DIR"],
        "LOCKGATE_DATA_DIR": os.environ["LOCKGATE_DATA_DIR"],
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    py = shlex.quote(sys.executable)
    command = (
        f"cd {shlex.quote(str(ROOT))} && env -i {exports} {py} -m app acp -w "
        f"{shlex.quote(str(gitws))} -- {py} {shlex.quote(str(AGENT))} console; "
        "echo LOCKGATE-EXIT=$?; sleep 60"
    )
    term = Terminal(name)
    subprocess.run([*term.tmux, "new-session", "-d", "-s", name, "-x", "160", "-y", "50",
                    command], check=True)  # fmt: skip
    try:
        yield term, gitws
    finally:
        subprocess.run([*term.tmux, "kill-server"], capture_output=True)


def test_acp_in_a_real_terminal(terminal: tuple[Terminal, Path]) -> None:
    term, ws = terminal
    term.wait_for(lambda s: "task for the agent" in s, "the task prompt")
    term.type("tidy up and publish")
    term.keys("Enter")

    screen = term.wait_for(lambda s: "waiting" in _row(s, "git push"), "the permission request")
    assert "lockgate" in screen.splitlines()[0]
    term.wait_for(_shown("git push --force origin main"), "the request in the detail pane")
    time.sleep(0.6)
    term.keys("f")
    term.wait_for(lambda s: "What should the agent do instead?" in s, "the feedback box")
    term.type("push a branch")
    term.keys("Enter")

    term.wait_for(lambda s: "waiting" in _row(s, "curl -fsS"), "the terminal command")
    term.wait_for(_shown("curl -fsS"), "the command in the detail pane")
    time.sleep(0.6)
    term.keys("n")

    term.wait_for(lambda s: "waiting" in _row(s, "setup.sh"), "the edit permission")
    term.wait_for(_shown("setup.sh"), "the edit in the detail pane")
    time.sleep(0.6)
    term.keys("y")

    screen = term.wait_for(lambda s: "end_turn" in s, "the agent's turn ending")
    assert "denied" in _row(screen, "curl -fsS")
    term.keys("q")
    screen = term.wait_for(lambda s: "LOCKGATE-EXIT=" in s, "lockgate exiting")
    assert "LOCKGATE-EXIT=0" in screen
    assert (ws / "app.py").read_text() == "print('ok')\n"
    assert (ws / "setup.sh").exists()  # approved once, in its permission request
    assert not (ws / "data.json").exists()
