"""The jail itself (sandbox/linux/jail.py) and the overlay helpers the ACP link uses: writes land
in the upper layer only, the agent sees them, rollback and syncing never follow a planted
symlink, and a jail that cannot be built is refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from acpkit import AGENT, ROOT

from app.agent.acp.overlay import roll_back, scan, sync_in
from sandbox.linux.jail import Jail
from sandbox.policy import SandboxPolicy

pytestmark = pytest.mark.sandbox


def _drain(fd: int, timeout: float = 20) -> bytes:
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return out


def test_writes_land_in_the_upper_layer_and_the_real_tree_is_untouched(
    tmp_path: Path, gitws: Path
) -> None:
    jail = Jail(SandboxPolicy(workspace=gitws), tmp_path / "state")
    jail.start()
    try:
        script = (
            "echo new > README.md; echo add > added.txt; rm notes.txt; mkdir -p d; "
            "ln -s /etc/passwd d/link; echo hook > .git/hooks/pre-push || echo hook-refused; "
            "cat README.md"
        )
        proc = jail.spawn(["/bin/sh", "-c", script], env={"PATH": "/usr/bin:/bin"})
        os.close(proc.stdin)
        out = _drain(proc.stdout)
        proc.close()
        assert out.decode().splitlines() == ["hook-refused", "new"]
        assert (gitws / "README.md").read_text() == "# readme\n"
        assert (gitws / "notes.txt").exists() and not (gitws / "added.txt").exists()
        assert not (gitws / ".git" / "hooks" / "pre-push").exists()
        found = scan(jail.upper, gitws)
        assert [(c.rel, c.kind) for c in found.changes] == [
            ("README.md", "modify"), ("added.txt", "add"), ("notes.txt", "delete"),
        ]  # fmt: skip
        assert any("d/link" in n and "symlink" in n for n in found.notes)
        # rollback through the agent's view: its copy becomes the real file again
        assert roll_back(found.changes, jail.merged()) == []
        assert scan(jail.upper, gitws).changes == []
        assert (jail.merged() / "README.md").read_text() == "# readme\n"
        # a write never follows a symlink the agent planted: d/link stays a link to /etc/passwd
        before = Path("/etc/passwd").read_bytes()
        assert "d/link" in sync_in("d/link/x", "pwned\n", jail.merged())
        assert sync_in("d/new.txt", "ok\n", jail.merged()) == ""
        assert Path("/etc/passwd").read_bytes() == before
    finally:
        jail.close()


def test_a_real_symlink_is_never_read_through_into_a_diff(tmp_path: Path, gitws: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    (gitws / "leak").symlink_to(secret)
    (gitws / "ldir").symlink_to(tmp_path)
    jail = Jail(SandboxPolicy(workspace=gitws), tmp_path / "state")
    jail.start()
    try:
        script = "rm leak ldir && echo mine > leak && mkdir ldir && echo x > ldir/secret.txt"
        proc = jail.spawn(["/bin/sh", "-c", script], env={"PATH": "/usr/bin:/bin"})
        os.close(proc.stdin)
        _drain(proc.stdout)
        proc.close()
        found = scan(jail.upper, gitws)
    finally:
        jail.close()
    texts = [c.old or "" for c in found.changes] + found.notes
    assert not any("TOP-SECRET" in t for t in texts)
    assert all(c.rel not in ("leak", "ldir/secret.txt") for c in found.changes)


def test_a_jail_that_cannot_be_built_is_refused_in_one_line(tmp_path: Path) -> None:
    ws = tmp_path / "a,b"  # a comma cannot be in an overlayfs layer path
    ws.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "app", "acp", "-w", str(ws), "--headless", "--prompt", "x",
         "--", sys.executable, str(AGENT), "basic"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot jail the agent" in proc.stderr
