"""End to end in a real terminal: `lockgate demo` runs inside tmux, keys are sent the way a person
types them, and the test reads the terminal back and looks at the workspace.

Everything is real: the scripted agent, the risk engine, the policy, the sandbox, the patch
engine, the audit log, the console. The demo's hosts end in `.example` and every network ask
is denied, so nothing leaves the machine.
"""

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

pytestmark = pytest.mark.tmux

REPO = Path(__file__).resolve().parents[2]


class Terminal:
    """A tmux server of our own (its own socket, no user config), so nothing else running on the
    machine can resize or share its window."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tmux = ["tmux", "-L", name, "-f", "/dev/null"]

    def screen(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-t", self.name, "-p"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

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


QUEUE_WIDTH = 72  # the queue is the left 45% of a 160-column terminal


def _row(screen: str, text: str) -> str:
    """The queue row (left pane) that mentions `text`."""
    rows = (line[:QUEUE_WIDTH] for line in screen.splitlines()[1:])
    return next((row for row in rows if text in row), "")


def _waiting(text: str) -> Callable[[str], bool]:
    return lambda screen: "waiting" in _row(screen, text)


def read() -> None:
    """A reviewer reads what came up before pressing a key (the console ignores verdict keys for
    a moment after it moved the selection by itself)."""
    time.sleep(0.6)


def _shown(text: str) -> Callable[[str], bool]:
    """The detail pane (right of the queue) shows `text`."""
    return lambda screen: any(text in line[QUEUE_WIDTH:] for line in screen.splitlines()[1:])


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    from sandbox.probe import probe

    kernel = probe()
    if not kernel.can_run():
        pytest.skip(f"the sandbox cannot run here: {kernel.refusal()}")
    from app.agent.demo_setup import prepare_demo_workspace

    ws = prepare_demo_workspace(tmp_path)
    name = f"lockgate-e2e-{uuid.uuid4().hex[:8]}"
    # A clean environment: the test process may carry COLUMNS/LINES (Textual's own test tools
    # set them), which would make the console lay out for 80x24 inside a 160x50 terminal.
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
    command = (
        f"cd {shlex.quote(str(REPO))} && env -i {exports} {shlex.quote(sys.executable)} -m app demo"
        f" --workspace {shlex.quote(str(ws))} --pace 0; echo LOCKGATE-EXIT=$?; sleep 60"
    )
    term = Terminal(name)
    subprocess.run(
        [*term.tmux, "new-session", "-d", "-s", name, "-x", "160", "-y", "50", command], check=True
    )
    size = subprocess.run(
        [*term.tmux, "display", "-p", "-t", name, "#{window_width}x#{window_height}"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert size == "160x50", f"tmux made a {size} window"
    try:
        yield term, ws
    finally:
        subprocess.run([*term.tmux, "kill-server"], capture_output=True)


def test_demo_in_a_real_terminal(terminal: tuple[Terminal, Path]) -> None:
    term, ws = terminal

    # The safe exploration and the SAFE fix ran by themselves; two cleanups wait together, and
    # both are on screen whole, so one `a` approves the batch.
    screen = term.wait_for(_waiting("git clean -fdX"), "the two cleanups waiting")
    assert "2 waiting" in screen
    term.wait_for(_shown("find . -name"), "the first cleanup in the detail pane")
    read()
    term.keys("a")

    # The typosquat waits for us.
    screen = term.wait_for(_waiting("pip install reqeusts"), "the typosquatted install waiting")
    assert "done" in _row(screen, "git clean -fdX") and "done" in _row(screen, "find . -name")
    assert "lockgate" in screen.splitlines()[0] and "agent" in screen.splitlines()[0]
    assert "HIGH" in _row(screen, "pip install reqeusts")
    assert ">= 50" in (ws / "shopcart" / "pricing.py").read_text()
    # The selection went to the waiting action by itself: no need to move to it.
    term.wait_for(_shown("pip install reqeusts"), "the install in the detail pane")
    read()
    term.keys("n")

    screen = term.wait_for(_waiting("curl -fsSL"), "curl | sh waiting")
    assert "denied" in _row(screen, "pip install reqeusts")
    term.wait_for(_shown("curl -fsSL"), "curl | sh in the detail pane")
    read()
    term.keys("f")
    term.wait_for(lambda s: "What should the agent do instead?" in s, "the feedback box")
    term.type("no curl pipes")
    term.keys("Enter")

    # The coverage script asks to reach an unlisted host: a network ask in the queue. Deny it.
    screen = term.wait_for(_waiting("metrics.devtools.example"), "the network ask")
    assert "network ask" in screen
    assert "denied" in _row(screen, "curl -fsSL")
    term.wait_for(_shown("metrics.devtools.example"), "the network ask in the detail pane")
    read()
    term.keys("n")

    # The git hook is critical: `y` asks for a typed confirmation that names the danger.
    term.wait_for(_waiting(".git/hooks/pre-commit"), "the hook patch waiting")
    term.wait_for(_shown(".git/hooks/pre-commit"), "the hook patch in the detail pane")
    read()
    term.keys("y")
    screen = term.wait_for(lambda s: "Type yes and press Enter" in s, "the critical confirmation")
    assert "CRITICAL" in screen
    term.keys("Escape")
    screen = term.wait_for(lambda s: "Type yes" not in s, "the confirmation closing")
    assert "waiting" in _row(screen, ".git/hooks/pre-commit")
    term.keys("n")

    screen = term.wait_for(lambda s: "agent done" in s, "the agent finishing")
    assert "denied" in _row(screen, ".git/hooks/pre-commit")
    assert "no curl pipes" not in _row(screen, "curl -fsSL")  # feedback lives in the detail
    term.keys("q")
    screen = term.wait_for(lambda s: "LOCKGATE-EXIT=" in s, "lockgate exiting")
    assert "LOCKGATE-EXIT=0" in screen
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert ">= 10" in (ws / "shopcart" / "pricing.py").read_text()
