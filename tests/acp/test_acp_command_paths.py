"""What an agent's command line names under /tmp stays readable in its jail (a checkout or an
npm tree there), and nothing of the home or the workspace is opened by it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.cli.acp_cmd import command_paths


def test_a_checkout_under_tmp_is_readable_whole(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="lockgate-acp-paths-", dir="/tmp"))
    try:
        pkg = base / "node_modules" / "@x" / "agent" / "dist"
        pkg.mkdir(parents=True)
        (pkg / "index.js").write_text("")
        bin_dir = base / "node_modules" / ".bin"
        bin_dir.mkdir()
        (bin_dir / "agent").symlink_to(pkg / "index.js")
        home = tmp_path / "home"
        home.mkdir()
        ws = tmp_path / "ws"
        ws.mkdir()
        got = command_paths([str(bin_dir / "agent"), "--acp", "-m", "x"], home, ws)
        assert got == (base,)
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_home_workspace_and_elsewhere_are_not_opened(tmp_path: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="lockgate-acp-home-", dir="/tmp"))
    ws = Path(tempfile.mkdtemp(prefix="lockgate-acp-ws-", dir="/tmp"))
    try:
        (home / "agent.py").write_text("")
        (ws / "agent.py").write_text("")
        argv = ["python3", str(home / "agent.py"), str(ws / "agent.py"), "/usr/bin/env", "/nope"]
        assert command_paths(argv, home, ws) == ()
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(ws, ignore_errors=True)
