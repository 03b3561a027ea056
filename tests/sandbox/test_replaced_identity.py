"""A file renamed over a covered name can get the inode number the replaced one freed (git's
lock-and-rename, twice, can land on the same number): the identity check after a run would then
miss it. The watch's events count too (sandbox.replaced.replaced_since), so the run still
reports the name and the guard still checks what a replaced git config gained."""

from __future__ import annotations

import os
from pathlib import Path

from sandbox.replaced import ReplaceWatch, replaced_since, single_files


def _rename_over(name: Path, text: str) -> None:
    lock = name.with_name(name.name + ".lock")
    lock.write_text(text)
    os.rename(lock, name)


def test_a_replacement_that_reuses_the_inode_number_is_still_reported(tmp_path: Path) -> None:
    config = tmp_path / "config"
    other = tmp_path / "other"
    config.write_text("[core]\n")
    other.write_text("x\n")
    watch = ReplaceWatch([str(config), str(other)])
    _rename_over(config, "[core]\n\tfsmonitor = touch PWNED\n")
    # what the identity check sees when the new file got the old inode number back
    reused = single_files([str(config), str(other)])
    watch.close()  # events after the last poll are read here
    assert replaced_since(reused) == []  # the identity alone is fooled
    assert replaced_since(reused, watch.seen) == [str(config)]
    assert watch.hit == str(config)


def test_names_beside_a_covered_file_are_not_reported(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[core]\n")
    covers = single_files([str(config)])
    watch = ReplaceWatch([str(config)])
    _rename_over(tmp_path / "config.worktree", "x\n")  # a sibling, not covered
    (tmp_path / "config.lock").write_text("half-written")  # a lock that was never renamed
    assert not watch.poll()
    watch.close()
    assert watch.seen == set()
    assert replaced_since(covers, watch.seen) == []
