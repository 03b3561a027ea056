"""`lockgate sandbox check` and `lockgate sandbox run`, through the real entry point: exit status
contracts (own, 124, 128+N, 125 with one line), passthrough, --stdin, --max-output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import KernelSupport

pytestmark = pytest.mark.sandbox


def lockgate(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def test_check_text_and_json(support: KernelSupport) -> None:
    text = lockgate("sandbox", "check")
    assert text.returncode == 0, text.stderr
    out = text.stdout.decode()
    for layer in ("user namespace", "pid namespace", "landlock", "seccomp", "process cap"):
        assert layer in out
    assert "sandbox: can run" in out
    data = json.loads(lockgate("sandbox", "check", "--json").stdout)
    assert data["can_run"] is True and data["landlock_abi"] >= 6
    assert {layer["name"] for layer in data["layers"]} >= {"user namespace", "seccomp"}


def test_run_passes_output_and_status(support: KernelSupport, workspace: Path) -> None:
    r = lockgate("sandbox", "run", "--workspace", str(workspace), "--",
                 "sh", "-c", "echo out; echo err >&2; exit 7")  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (7, b"out\n", b"err\n")


def test_run_timeout_signal_and_setup_failure(support: KernelSupport, workspace: Path) -> None:
    timeout = lockgate("sandbox", "run", "--workspace", str(workspace), "--timeout", "0.5",
                       "--", "sh", "-c", "sleep 30")  # fmt: skip
    assert timeout.returncode == 124
    killed = lockgate("sandbox", "run", "--workspace", str(workspace), "--",
                      "sh", "-c", "kill -KILL $$")  # fmt: skip
    assert killed.returncode == 137
    refused = lockgate("sandbox", "run", "--workspace", "/", "--", "true")
    assert refused.returncode == 125
    lines = refused.stderr.decode().splitlines()
    assert len(lines) == 1 and "may not be /" in lines[0]
    gone = lockgate("sandbox", "run", "--workspace", str(workspace / "nope"), "--", "true")
    assert gone.returncode == 125 and len(gone.stderr.splitlines()) == 1


def test_run_stdin_only_when_asked(support: KernelSupport, workspace: Path) -> None:
    given = lockgate("sandbox", "run", "--workspace", str(workspace), "--stdin", "--", "cat",
                     stdin=b"piped\n")  # fmt: skip
    assert given.stdout == b"piped\n"
    withheld = lockgate("sandbox", "run", "--workspace", str(workspace), "--", "cat",
                        stdin=b"piped\n")  # fmt: skip
    assert withheld.returncode == 0 and withheld.stdout == b""


def test_run_max_output_bounds_the_passthrough(support: KernelSupport, workspace: Path) -> None:
    r = lockgate("sandbox", "run", "--workspace", str(workspace), "--max-output", "1000", "--",
                 "sh", "-c", "seq 1 200000")  # fmt: skip
    assert r.returncode == 0
    assert len(r.stdout) <= 1000
    assert r.stdout.startswith(b"1\n2\n3\n") and r.stdout.endswith(b"199999\n200000\n")
    assert b"left out" in r.stderr


def test_run_writable_root(support: KernelSupport, tmp_path: Path) -> None:
    ws, extra = tmp_path / "ws", tmp_path / "cache"
    ws.mkdir()
    extra.mkdir()
    r = lockgate("sandbox", "run", "--workspace", str(ws), "--writable", str(extra), "--",
                 "sh", "-c", f"echo c > {extra}/c && echo w > w")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (extra / "c").read_text() == "c\n" and (ws / "w").read_text() == "w\n"
