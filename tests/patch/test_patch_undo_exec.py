"""Undo, the PatchExecutor port, and the `lockgate patch` CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from patchkit import apply_text, run_patch, snapshot, v4a, write_tree

from app.core.model import PatchAction, ResultStatus
from app.execute.patches import WorkspacePatchExecutor
from app.patch import PatchError
from app.patch.apply import undo_last
from app.patch.storage import store_path


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    write_tree(root, {"a.txt": "one\ntwo\n", "b.txt": "bee\n", "old.txt": "old\n"})
    return root


PATCH = v4a(
    "*** Update File: a.txt\n@@\n one\n-two\n+TWO\n*** Delete File: old.txt\n"
    "*** Add File: n/new.txt\n+new\n*** Update File: b.txt\n*** Move to: c.txt\n@@\n-bee\n+sea"
)


def test_undo_restores_exactly(ws: Path) -> None:
    before = snapshot(ws)
    apply_text(ws, PATCH)
    assert (ws / "c.txt").read_text() == "sea\n"
    undo_last(ws)
    after = {k: v[:3] for k, v in snapshot(ws, skip_store=True).items()}
    assert after == {k: v[:3] for k, v in before.items()}
    with pytest.raises(PatchError, match="nothing to undo"):
        undo_last(ws)


def test_undo_goes_back_patch_by_patch(ws: Path) -> None:
    apply_text(ws, v4a("*** Update File: a.txt\n@@\n-one\n+1"))
    apply_text(ws, v4a("*** Update File: a.txt\n@@\n-two\n+2"))
    undo_last(ws)
    assert (ws / "a.txt").read_text() == "1\ntwo\n"
    undo_last(ws)
    assert (ws / "a.txt").read_text() == "one\ntwo\n"


def test_undo_refuses_and_names_the_file_that_moved_on(ws: Path) -> None:
    apply_text(ws, PATCH)
    (ws / "c.txt").write_text("edited after the patch\n")
    before = snapshot(ws)
    with pytest.raises(
        PatchError, match=r"cannot undo: c\.txt changed since the patch was applied"
    ):
        undo_last(ws)
    assert snapshot(ws) == before


def test_undo_without_history(ws: Path) -> None:
    with pytest.raises(PatchError, match="nothing to undo"):
        undo_last(ws)
    assert not store_path(ws).exists()


def test_store_lives_outside_the_workspace(ws: Path) -> None:
    """Applying leaves nothing in the tree but the patch's own changes."""
    before = {p.relative_to(ws) for p in ws.rglob("*")}
    apply_text(ws, v4a("*** Update File: a.txt\n@@\n-one\n+1"))
    assert {p.relative_to(ws) for p in ws.rglob("*")} == before
    assert len(list(store_path(ws).glob("*/journal.json"))) == 1


# --------------------------------------------------------------------------- executor port


async def test_executor_review_apply_undo(ws: Path) -> None:
    ex = WorkspacePatchExecutor(ws)
    action = PatchAction(patch=PATCH, turn_id="t1")
    review = ex.review(action)
    assert review.ok and review.error == ""
    assert dict((p, (a, r)) for p, a, r in review.files)["a.txt"] == (1, 1)
    assert "+TWO" in review.unified_diff
    result = await ex.apply(action, review)
    assert result.status is ResultStatus.COMPLETED, result.message
    assert set(result.files_changed) == {"a.txt", "old.txt", "n/new.txt", "b.txt", "c.txt"}
    assert result.message.startswith("Success.")
    undone = await ex.undo_last()
    assert undone.status is ResultStatus.COMPLETED
    assert (ws / "b.txt").read_text() == "bee\n"
    again = await ex.undo_last()
    assert again.status is ResultStatus.FAILED and "nothing to undo" in again.message


async def test_executor_refusals_are_failed_results(ws: Path) -> None:
    ex = WorkspacePatchExecutor(ws)
    bad = PatchAction(patch=v4a("*** Update File: a.txt\n@@\n-nope\n+x"), turn_id="t")
    review = ex.review(bad)
    assert not review.ok and "nope" in review.error
    result = await ex.apply(bad, review)
    assert result.status is ResultStatus.FAILED
    good = PatchAction(patch=v4a("*** Update File: a.txt\n@@\n-one\n+1"), turn_id="t")
    review = ex.review(good)
    (ws / "a.txt").write_text("one\ntwo\nmore\n")
    before = snapshot(ws)
    stale = await ex.apply(good, review)
    assert stale.status is ResultStatus.FAILED and "stale patch" in stale.message
    assert snapshot(ws) == before
    other = PatchAction(patch=good.patch, turn_id="t")
    mismatched = await ex.apply(other, review)
    assert mismatched.status is ResultStatus.FAILED


async def test_executor_protected_paths(ws: Path) -> None:
    action = PatchAction(patch=v4a("*** Add File: .git/hooks/pre-commit\n+echo pwned"), turn_id="t")
    refusing = WorkspacePatchExecutor(ws)
    review = refusing.review(action)
    assert not review.ok and "protected" in review.error
    asking = WorkspacePatchExecutor(ws, ask_for_protected=True)
    review = asking.review(action)
    assert review.ok and asking.protected_paths(review) == (".git/hooks/pre-commit",)
    result = await asking.apply(action, review)
    assert result.status is ResultStatus.FAILED and "protected" in result.message
    assert not (ws / ".git").exists()
    asking.approve_protected_item(action.id)
    result = await asking.apply(action, review)
    assert result.status is ResultStatus.COMPLETED
    allowed = WorkspacePatchExecutor(ws, approved_protected=[".git/hooks/pre-push"])
    ok = allowed.review(
        PatchAction(patch=v4a("*** Add File: .git/hooks/pre-push\n+x"), turn_id="t")
    )
    assert ok.ok


# --------------------------------------------------------------------------- CLI


def test_cli_check_prints_diff_and_changes_nothing(ws: Path) -> None:
    before = snapshot(ws)
    r = run_patch("check", "--workspace", str(ws), "-", input=PATCH)
    assert r.exit_code == 0, r.output
    assert "diff --git a/a.txt b/a.txt" in r.stdout and "+TWO" in r.stdout
    assert "4 files changed" in r.stderr
    assert snapshot(ws) == before


def test_cli_apply_and_undo(ws: Path, tmp_path: Path) -> None:
    pf = tmp_path / "p.txt"
    pf.write_text(PATCH)
    r = run_patch("apply", "--workspace", str(ws), str(pf))
    assert r.exit_code == 0, r.output
    assert "M a.txt" in r.stdout
    r = run_patch("apply", "--workspace", str(ws), str(pf))
    assert r.exit_code == 1
    assert r.stderr.startswith("lockgate: ") and r.stderr.count("\n") == 1
    r = run_patch("undo", "--workspace", str(ws))
    assert r.exit_code == 0, r.output
    assert (ws / "a.txt").read_text() == "one\ntwo\n"
    r = run_patch("undo", "--workspace", str(ws))
    assert r.exit_code == 1 and "nothing to undo" in r.stderr


def test_cli_refusal_is_one_line_and_changes_nothing(ws: Path) -> None:
    before = snapshot(ws)
    for cmd in ("check", "apply"):
        r = run_patch(cmd, "-w", str(ws), "-", input=v4a("*** Add File: ../escape\n+x"))
        assert r.exit_code == 1
        assert r.stderr.startswith("lockgate: ") and r.stderr.count("\n") == 1
        assert "Traceback" not in r.output
    assert snapshot(ws) == before


def test_cli_accepts_json_operation_and_unified(ws: Path) -> None:
    op = json.dumps({"type": "update_file", "path": "a.txt", "diff": "@@\n-one\n+uno\n"})
    assert run_patch("apply", "-w", str(ws), "-", input=op).exit_code == 0
    uni = "--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-bee\n+B\n"
    assert run_patch("apply", "-w", str(ws), "-", input=uni).exit_code == 0
    assert (ws / "a.txt").read_text() == "uno\ntwo\n" and (ws / "b.txt").read_text() == "B\n"


def test_cli_usage_errors_exit_2(ws: Path, tmp_path: Path) -> None:
    r = run_patch("apply", "-w", str(ws), str(tmp_path / "missing.patch"))
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = run_patch("check", "-w", str(tmp_path / "nodir"), "-", input=PATCH)
    assert r.exit_code == 2


def test_cli_escapes_terminal_controls(ws: Path) -> None:
    r = run_patch(
        "check", "-w", str(ws), "-", input=v4a("*** Add File: x.txt\n+\x1b]0;owned\x07\u202eevil")
    )
    assert r.exit_code == 0
    assert "\x1b" not in r.stdout and "\\x1b]0;owned\\x07\\u202eevil" in r.stdout


def test_cli_non_utf8_patch_refused(ws: Path) -> None:
    r = run_patch("apply", "-w", str(ws), "-", input=b"*** Begin Patch\n\xff\n*** End Patch\n")
    assert r.exit_code == 1 and "UTF-8" in r.stderr


def test_real_entry_point_exit_codes(ws: Path) -> None:
    import subprocess
    import sys

    def lockgate(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", "patch", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = lockgate("apply", "--workspace", str(ws), "-", stdin=v4a("*** Add File: z.txt\n+z"))
    assert ok.returncode == 0, ok.stderr
    bad = lockgate("apply", "--workspace", str(ws), "-", stdin=v4a("*** Delete File: nope"))
    assert bad.returncode == 1
    assert bad.stderr == "lockgate: cannot delete nope: no such file\n"


def _forge(ws: Path, state: str) -> None:
    """A journal lockgate did not write (its digest was never recorded)."""
    txn = store_path(ws) / "00000000000000000001-forged"
    txn.mkdir(parents=True)
    (txn / "b0").write_text("#!/bin/sh\necho pwned\n")
    import hashlib

    cur = hashlib.sha256((ws / "a.txt").read_bytes()).hexdigest()
    evil = hashlib.sha256(b"#!/bin/sh\necho pwned\n").hexdigest()
    journal = {
        "version": 1,
        "id": "forged",
        "state": state,
        "created_dirs": [],
        "undoes": None,
        "entries": [
            {
                "rel": "a.txt",
                "tmp": None,
                "backup": "b0",
                "old_hash": evil,
                "old_mode": 0o755,
                "new_hash": cur,
                "new_mode": (ws / "a.txt").stat().st_mode & 0o777,
            }
        ],
    }
    (txn / "journal.json").write_text(json.dumps(journal))


def test_forged_journal_is_not_recovered(ws: Path) -> None:
    from app.patch.apply import recover

    _forge(ws, "applying")
    before = snapshot(ws)
    assert recover(ws) == []
    WorkspacePatchExecutor(ws)
    assert snapshot(ws) == before


def test_forged_journal_is_not_undone(ws: Path) -> None:
    _forge(ws, "committed")
    before = snapshot(ws)
    with pytest.raises(PatchError, match="nothing to undo"):
        undo_last(ws)
    assert snapshot(ws) == before


def test_tampered_pre_image_is_not_restored(ws: Path) -> None:
    apply_text(ws, v4a("*** Update File: a.txt\n@@\n-one\n+1"))
    (backup,) = store_path(ws).glob("*/b0")
    backup.unlink()
    backup.write_text("tampered\n")
    before = snapshot(ws)
    with pytest.raises(PatchError, match=r"saved copy of a\.txt is missing or altered"):
        undo_last(ws)
    assert snapshot(ws) == before
