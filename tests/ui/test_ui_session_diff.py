"""The session diff: everything changed since the snapshot, added and deleted files included."""

from __future__ import annotations

import os
from pathlib import Path

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
