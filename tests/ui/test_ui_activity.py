"""The file-activity feed shows what happened to the workspace, not lockgate's own bookkeeping:
the `.lockgate/` directory and the patch engine's temporary files stay out, anything else that
changes while nothing runs is flagged."""

from __future__ import annotations

from pathlib import Path

from uikit import console, patch
from watchfiles import Change

from app.core.pipeline import ActionState
from app.ui.activity_watch import Attributor, rows_for
from app.ui.screens.dialogs import ConfirmScreen
from app.ui.widgets.activity import ActivityFeed


def _changes(ws: Path, *rels: str) -> set[tuple[Change, str]]:
    return {(Change.added, str(ws / r)) for r in rels}


def test_lockgate_directory_is_never_activity(tmp_path: Path) -> None:
    changes = _changes(
        tmp_path,
        ".lockgate",
        ".lockgate/patches",
        ".lockgate/patches/0179-patch-1/journal.json",
        "src/app.py",
        ".lockgate.toml",
        "sub/.lockgate/x",
    )
    rows = rows_for(changes, tmp_path, None)
    # `.lockgate.toml` is the project's policy: a change to it is anyone's but lockgate's.
    assert sorted(r.path for r in rows) == [".lockgate.toml", "src/app.py", "sub/.lockgate/x"]
    assert all(r.action_id is None for r in rows)


def test_patch_temp_files_are_hidden_only_while_the_patch_engine_works(tmp_path: Path) -> None:
    temp = "src/.lockgate-tmp-0123456789abcdef-0"
    restore = "src/.lockgate-restore-0123456789ab"
    changes = _changes(tmp_path, temp, restore, "src/app.py")
    patching = rows_for(changes, tmp_path, "patch-1", patching=True)
    assert [r.path for r in patching] == ["src/app.py"]
    # The same names made by a command (or by no one) are shown like any other file.
    command = rows_for(changes, tmp_path, "cmd-1")
    assert sorted(r.path for r in command) == [restore, temp, "src/app.py"]
    assert len(rows_for(changes, tmp_path, None)) == 3


async def test_feed_leaves_out_lockgate_files_and_flags_the_rest(workspace: Path) -> None:
    async with console(workspace, watch_files=True) as c:
        await c.pilot.pause(0.3)  # the watcher is up
        journal = workspace / ".lockgate" / "patches" / "0179-patch-x"
        journal.mkdir(parents=True)
        (journal / "journal.json").write_text("{}")
        (workspace / "stray.txt").write_text("x")
        feed = c.main.query_one(ActivityFeed)
        await c.until(lambda: "stray.txt" in c.text)
        await c.pilot.pause(0.3)  # any later batch with the journal in it has arrived too
        assert "⚠ + stray.txt  ⚠ while nothing ran" in c.text
        assert ".lockgate" not in c.text
        assert [r.path for r in feed.rows] == ["stray.txt"]
        assert feed.has_class("-unattributed")

        # A patch's own change is credited to it; lockgate's files are still left out.
        c.link.turn("t1", [patch("made.py=1\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("y")
        (journal / "journal.json").write_text('{"state": "committed"}')
        await c.until(lambda: "made.py  ← patch-t1-1" in c.text)
        assert ".lockgate" not in c.text


async def test_undo_is_credited_to_the_console_not_flagged(workspace: Path) -> None:
    async with console(workspace, watch_files=True) as c:
        await c.pilot.pause(0.3)
        c.link.turn("t1", [patch("made.py=1\n", n=1)])
        await c.until(lambda: c.state("patch-t1-1") == ActionState.WAITING)
        await c.select("patch-t1-1")
        await c.pilot.press("y")
        await c.until(lambda: "made.py  ← patch-t1-1" in c.text)
        await c.pilot.pause(0.7)  # past the grace period that still credits the patch
        await c.pilot.press("u")
        await c.until(lambda: isinstance(c.app.screen, ConfirmScreen))
        await c.pilot.press("y")
        await c.until(lambda: not (workspace / "made.py").exists())
        await c.until(lambda: "made.py  ← undo" in c.text)
        assert "while nothing ran" not in c.text


def test_a_file_replaced_by_a_rename_is_modified_not_added(tmp_path: Path) -> None:
    known = {"shopcart/pricing.py"}
    target = str(tmp_path / "shopcart/pricing.py")
    temp = str(tmp_path / "shopcart/.lockgate-tmp-0123456789abcdef-0")
    # The patch engine's write: its temp file appears, then is renamed over the target.
    first = rows_for({(Change.added, temp)}, tmp_path, "patch-1", patching=True, known=known)
    second = rows_for(
        {(Change.deleted, temp), (Change.added, target)},
        tmp_path,
        "patch-1",
        patching=True,
        known=known,
    )
    assert first == []
    assert [(r.change, r.path) for r in second] == [("modified", "shopcart/pricing.py")]


def test_removed_and_written_again_in_one_batch(tmp_path: Path) -> None:
    known = {"a.txt"}
    changes = {(Change.deleted, str(tmp_path / "a.txt")), (Change.added, str(tmp_path / "a.txt"))}
    assert [(r.change, r.path) for r in rows_for(changes, tmp_path, None, known=known)] == [
        ("modified", "a.txt")
    ]
    # A file that did not exist and came and went within the batch is no change at all.
    temp = {(Change.added, str(tmp_path / "t")), (Change.deleted, str(tmp_path / "t"))}
    assert rows_for(temp, tmp_path, None, known=known) == []
    # A deletion is remembered: the file written again later is new.
    rows_for({(Change.deleted, str(tmp_path / "a.txt"))}, tmp_path, None, known=known)
    again = rows_for({(Change.added, str(tmp_path / "a.txt"))}, tmp_path, None, known=known)
    assert [r.change for r in again] == ["added"]


def test_each_file_is_credited_to_the_action_that_wrote_it() -> None:
    """#18.8: the watcher reports late; the file's mtime says who wrote it. A patch is credited
    only with its own files, a command never with a patch's."""
    now = [1000.0]
    who = Attributor(clock=lambda: now[0])
    who.started("cmd-echo")  # echo > notes.txt
    now[0] += 0.1
    who.finished("cmd-echo")
    who.started("patch-1", patching=True, files=["app.py"])
    now[0] += 0.1
    who.finished("patch-1")
    who.started("cmd-pytest")
    now[0] += 0.05
    # All three reported in one late batch, while pytest runs:
    assert who.credit("notes.txt", mtime=1000.05) == ("cmd-echo", False)
    assert who.credit("app.py", mtime=1000.15) == ("patch-1", True)
    assert who.credit(".pytest_cache/v", mtime=1000.22) == ("cmd-pytest", False)
    # A file written during the patch that the patch did not declare came from outside.
    assert who.credit("other.txt", mtime=1000.15) == (None, False)
    who.finished("cmd-pytest")
    now[0] += 5
    assert who.credit("late.txt", mtime=now[0]) == (None, False)  # nothing ran: flagged


def test_directories_are_not_listed(tmp_path: Path) -> None:
    """#18.8: a directory made (and maybe removed again) is not a row; its files are."""
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "x.o").write_text("x")
    known: set[str] = set()
    rows = rows_for(_changes(tmp_path, "build", "build/x.o"), tmp_path, "cmd-1", known=known)
    assert [r.path for r in rows] == ["build/x.o"]
    (tmp_path / "build" / "x.o").unlink()
    (tmp_path / "build").rmdir()
    gone = {
        (Change.deleted, str(tmp_path / "build")),
        (Change.deleted, str(tmp_path / "build/x.o")),
    }
    rows = rows_for(gone, tmp_path, "cmd-2", known=known)
    assert [(r.change, r.path) for r in rows] == [("deleted", "build/x.o")]
