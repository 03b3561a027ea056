"""ctrl-c (SIGINT) on `lockgate acp`: the agent gets session/cancel, then it is stopped, and
nothing it started outlives lockgate — jailed or not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from acpkit import AGENT, ROOT

pytestmark = pytest.mark.sandbox


def _tagged(tag: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if tag.encode() in cmdline:
            pids.append(int(entry))
    return pids


@pytest.mark.parametrize("jailed", [True, False], ids=["jailed", "unjailed"])
def test_ctrl_c_cancels_the_turn_and_leaves_nothing_running(
    gitws: Path, tmp_path: Path, jailed: bool
) -> None:
    tag = f"TAG={uuid.uuid4().hex}"
    mark = tmp_path / "cancelled"
    argv = [sys.executable, "-m", "app", "acp", "-w", str(gitws), "--headless", "--prompt", "go",
            *([] if jailed else ["--agent-unjailed"]),
            "--", sys.executable, str(AGENT), "hang", tag, f"CANCEL_MARK={mark}"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            if "hanging" in line or time.monotonic() > deadline:
                break
        assert _tagged(tag), "the agent should be running"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    end = time.monotonic() + 5
    while _tagged(tag) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _tagged(tag), "a process of the agent outlived lockgate"
    if not jailed:  # a jailed agent's write lands in its overlay, which is gone now
        assert mark.read_text() == "cancelled"  # it got session/cancel first
