"""`--podman-connection`: the session's container on another podman host, here a second podman
service on this machine reached through its socket URL. The workspace is synced there before
each command; what a command changed comes back as a patch to review, and the local workspace
is never written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxPolicy
from sandbox.podman.cli import default_runtime
from sandbox.policy import ContainerSpec

pytestmark = pytest.mark.usefixtures("podman_ok")


@pytest.fixture(scope="module")
def service(podman_ok: None) -> Iterator[str]:
    d = Path(tempfile.mkdtemp(prefix="lg-podman-svc-", dir="/tmp"))
    url = f"unix://{d}/podman.sock"
    runtime = default_runtime()
    argv = ["podman", *(["--runtime", runtime] if runtime else []), "system", "service",
            "--time=0", url]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (d / "podman.sock").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip(f"podman backend: no podman service: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    shutil.rmtree(d, ignore_errors=True)


def test_remote_changes_come_back_as_a_patch(
    service: str, pworkspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    (pworkspace / "a.txt").write_text("one\ntwo\n")
    (pworkspace / "gone.txt").write_text("bye\n")
    (pworkspace / "sub").mkdir()
    (pworkspace / "sub" / "b.txt").write_text("b\n")
    before = {p: p.read_bytes() for p in pworkspace.rglob("*") if p.is_file()}
    policy = SandboxPolicy(
        workspace=pworkspace, backend="podman", container=ContainerSpec(connection=service)
    )
    with Sandbox(policy) as sb:
        r = sb.run(
            ["sh", "-c", "cat sub/b.txt; echo three >> a.txt; rm gone.txt; "
             "echo new > sub/c.txt; printf '\\000bin' > bin.dat; exit 4"],
            timeout=60,
        )  # fmt: skip
        assert (r.exit_code, r.stdout) == (4, b"b\n"), r.stderr
        # nothing was written locally
        assert {p: p.read_bytes() for p in pworkspace.rglob("*") if p.is_file()} == before
        note = next(g for g in r.guard if "nothing was written" in g)
        patch = Path(note.rsplit(" ", 1)[1])
        text = patch.read_text()
        assert "+three" in text and "+++ /dev/null" in text and "+++ b/sub/c.txt" in text
        assert any("bin.dat (binary)" in g for g in r.guard)
        # the next command sees the local workspace again (the change was not approved)
        again = sb.run(["sh", "-c", "cat a.txt; ls"], timeout=60)
        assert again.stdout == b"one\ntwo\na.txt\ngone.txt\nsub\n", again.stdout
        assert not any("nothing was written" in g for g in again.guard)
        # a local change reaches the container
        (pworkspace / "a.txt").write_text("local\n")
        assert sb.run(["cat", "a.txt"], timeout=60).stdout == b"local\n"
        (pworkspace / "a.txt").write_text("one\ntwo\n")
        r = sb.run(["sh", "-c", "sleep 100"], timeout=1)
        assert r.timed_out and r.shell_status == 124
    # the patch is a real one: the patch engine accepts it against the workspace
    check = subprocess.run(
        [sys.executable, "-m", "app", "patch", "check", "-w", str(pworkspace), str(patch)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "LOCKGATE_NO_FAST_PATH": "1"},
    )
    assert check.returncode == 0, check.stderr
    assert "+three" in check.stdout
