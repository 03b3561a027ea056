"""Helpers for the ACP tests: a git workspace, and `lockgate acp` run for real. (Not named
`acp`: the test directory must never shadow the SDK's `acp` package.)"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

AGENT = Path(__file__).with_name("scripted_agent.py")
ROOT = Path(__file__).resolve().parents[2]


def results(stdout: str) -> dict[str, str]:
    """The scripted agent's `RESULT name: value` lines, as the headless transcript shows them."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        _, sep, rest = line.partition("RESULT ")
        if sep:
            name, _, value = rest.partition(": ")
            out[name.strip()] = value.strip()
    return out


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def results(self) -> dict[str, str]:
        return results(self.stdout)


def make_gitws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "notes.txt").write_text("one\ntwo\nthree\nfour\n")
    (ws / "README.md").write_text("# readme\n")
    (ws / "src" / "direct.py").write_text("x = 0\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=ws, check=True)
    subprocess.run([*git, "add", "-A"], cwd=ws, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=ws, check=True)
    return ws


def run_acp(
    ws: Path,
    scenario: str,
    *params: str,
    options: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 90,
) -> Ran:
    argv = [
        sys.executable, "-m", "app", "acp", "-w", str(ws), "--headless", "--prompt", "go",
        *options, "--", sys.executable, str(AGENT), scenario, *params,
    ]  # fmt: skip
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr)
