"""Every refusal leaves the filesystem byte-for-byte unchanged (bytes, modes, inode numbers),
inside the workspace and outside it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from patchkit import apply_text, plan_text, snapshot, v4a, write_tree

from app.patch import PatchError, parse_patch
from app.patch import apply as apply_mod
from app.patch.apply import apply_plan
from app.patch.plan import build_plan
from app.patch.storage import store_path


@pytest.fixture
def trees(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    ws = tmp_path / "ws"
    out = tmp_path / "outside"
    ws.mkdir()
    out.mkdir()
    write_tree(ws, {"a.txt": "alpha\n", "sub/b.txt": "beta\n", "bin.dat": b"\x00\x01\x02"})
    write_tree(out, {"secret.txt": "secret\n", "b.txt": "beta\n"})
    yield ws, out


def _refused(ws: Path, out: Path, text: str, needle: str) -> None:
    before = (snapshot(ws), snapshot(out))
    with pytest.raises(PatchError) as info:
        apply_text(ws, text)
    assert needle in str(info.value), str(info.value)
    assert "\n" not in str(info.value)
    assert (snapshot(ws), snapshot(out)) == before


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("../outside/secret.txt", "'..'"),
        ("sub/../../outside/x", "'..'"),
        ("sub/../a.txt", "'..'"),
        ("/etc/passwd", "outside the workspace"),
        ("~/.bashrc", "'~'"),
        ("~root/x", "'~'"),
        ("a\x01b", "control characters"),
        ("a\x1b[2Jb", "control characters"),
        ("a\u2028b", "control characters"),
        ("dir\\file", "backslash"),
        (".", "workspace itself"),
    ],
)
def test_bad_paths_refused(trees: tuple[Path, Path], path: str, needle: str) -> None:
    ws, out = trees
    _refused(ws, out, v4a(f"*** Add File: {path}\n+x"), needle)


def test_absolute_outside_via_json_newline_and_nul(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    _refused(ws, out, '{"type": "create_file", "path": "a\\nb", "diff": "+x"}', "control")
    _refused(ws, out, '{"type": "create_file", "path": "a\\u0000b", "diff": "+x"}', "control")
    _refused(ws, out, f'{{"type": "delete_file", "path": "{out}/secret.txt"}}', "outside")


def test_absolute_path_inside_is_accepted(trees: tuple[Path, Path]) -> None:
    ws, _ = trees
    apply_text(ws, v4a(f"*** Update File: {ws}/a.txt\n@@\n-alpha\n+ALPHA"))
    assert (ws / "a.txt").read_text() == "ALPHA\n"


def test_symlinked_directory_on_the_path_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    os.symlink(out, ws / "link")
    _refused(ws, out, v4a("*** Add File: link/new.txt\n+x"), "symlink")
    _refused(ws, out, v4a("*** Update File: link/b.txt\n@@\n-beta\n+pwned"), "symlink")
    _refused(
        ws, out, v4a("*** Update File: a.txt\n*** Move to: link/a.txt\n@@\n-alpha\n+x"), "symlink"
    )


def test_symlink_as_the_file_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    os.symlink(out / "secret.txt", ws / "s.txt")
    _refused(ws, out, v4a("*** Update File: s.txt\n@@\n-secret\n+pwned"), "symlink")
    _refused(ws, out, v4a("*** Add File: s.txt\n+pwned"), "symlink")
    _refused(ws, out, v4a("*** Delete File: s.txt"), "symlink")


def test_directory_swapped_for_symlink_between_review_and_apply(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    plan = build_plan(parse_patch(v4a("*** Update File: sub/b.txt\n@@\n-beta\n+pwned")), ws)
    os.rename(ws / "sub", ws / "sub.real")
    os.symlink(out, ws / "sub")  # outside/b.txt has the very content the reviewer saw
    before = (snapshot(ws), snapshot(out))
    with pytest.raises(PatchError, match="symlink"):
        apply_plan(plan)
    assert (snapshot(ws), snapshot(out)) == before


def test_hard_linked_file_is_replaced_not_edited(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    os.link(out / "secret.txt", ws / "hl.txt")
    ino = (ws / "hl.txt").stat().st_ino
    apply_text(ws, v4a("*** Update File: hl.txt\n@@\n-secret\n+changed"))
    assert (out / "secret.txt").read_text() == "secret\n"
    assert (ws / "hl.txt").read_text() == "changed\n"
    assert (ws / "hl.txt").stat().st_ino != ino


@pytest.mark.parametrize(
    "path",
    [
        ".git/hooks/pre-commit",
        ".git/config",
        "sub/.git/hooks/post-checkout",
        ".GIT/config",
        ".lockgate.toml",
        ".lockgate/patches/x",
        ".codex/config.toml",
        ".claude/settings.json",
        ".vscode/tasks.json",
        ".envrc",
        ".mcp.json",
    ],
)
def test_protected_paths_refused_unless_approved(trees: tuple[Path, Path], path: str) -> None:
    ws, out = trees
    _refused(ws, out, v4a(f"*** Add File: {path}\n+x"), "protected")
    apply_text(ws, v4a(f"*** Add File: {path}\n+x"), approved=frozenset({path}))
    assert (ws / path).read_text() == "x\n"


def test_protected_move_target_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    _refused(
        ws,
        out,
        v4a("*** Update File: a.txt\n*** Move to: .git/hooks/pre-push\n@@\n-alpha\n+x"),
        "protected",
    )


def test_binary_patch_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    text = (
        "diff --git a/img.png b/img.png\nnew file mode 100644\nindex 0000000..3333333\n"
        "Binary files /dev/null and b/img.png differ\n"
    )
    _refused(ws, out, text, "binary patches are refused")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("*** Delete File: missing.txt", "no such file"),
        ("*** Update File: missing.txt\n@@\n-a\n+b", "no such file"),
        ("*** Delete File: sub", "is a directory"),
        ("*** Add File: sub\n+x", "is a directory"),
        ("*** Add File: a.txt/child\n+x", "not a directory"),
        ("*** Update File: bin.dat\n@@\n-x\n+y", "binary file"),
        (
            "*** Update File: a.txt\n@@\n-alpha\n+A\n*** Update File: sub/b.txt\n@@\n-nope\n+x",
            "nope",
        ),
        ("*** Add File: n/x\n+1\n*** Add File: n\n+2", "n is a file"),
    ],
)
def test_semantic_refusals(trees: tuple[Path, Path], body: str, needle: str) -> None:
    ws, out = trees
    _refused(ws, out, v4a(body), needle)


def test_non_utf8_file_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    (ws / "latin1.txt").write_bytes(b"caf\xe9\n")
    _refused(ws, out, v4a("*** Update File: latin1.txt\n@@\n-x\n+y"), "not UTF-8")


def test_fifo_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    os.mkfifo(ws / "pipe")
    _refused(ws, out, v4a("*** Add File: pipe\n+x"), "not a regular file")


def test_empty_patch_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    _refused(ws, out, "*** Begin Patch\n*** End Patch\n", "no file changes")


def test_stale_file_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    plan = plan_text(ws, v4a("*** Update File: a.txt\n@@\n-alpha\n+x\n*** Add File: sub/new\n+n"))
    (ws / "a.txt").write_text("alpha\nedited meanwhile\n")
    before = (snapshot(ws), snapshot(out))
    with pytest.raises(PatchError, match=r"stale patch: a\.txt changed since it was reviewed"):
        apply_plan(plan)  # type: ignore[arg-type]
    assert (snapshot(ws), snapshot(out)) == before


def test_stale_created_file_refused(trees: tuple[Path, Path]) -> None:
    ws, _ = trees
    plan = plan_text(ws, v4a("*** Add File: c.txt\n+x"))
    (ws / "c.txt").write_text("someone else\n")
    with pytest.raises(PatchError, match="was created since"):
        apply_plan(plan)  # type: ignore[arg-type]
    assert (ws / "c.txt").read_text() == "someone else\n"


def test_failure_mid_commit_rolls_back_exactly(
    trees: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, out = trees
    text = v4a(
        "*** Update File: a.txt\n@@\n-alpha\n+A\n*** Delete File: sub/b.txt\n"
        "*** Add File: n/e/w.txt\n+w\n*** Add File: z.txt\n+z"
    )
    before = (snapshot(ws), snapshot(out))
    calls = {"commit": 0}

    def hook(step: str) -> None:
        if step == "commit":
            calls["commit"] += 1
            if calls["commit"] == 3:
                raise OSError(28, "No space left on device")

    monkeypatch.setattr(apply_mod, "step_hook", hook)
    with pytest.raises(PatchError, match="No space left"):
        apply_text(ws, text)
    # identical, inode numbers included: rollback renames the very old inodes back
    assert (snapshot(ws), snapshot(out)) == before
    assert not list(store_path(ws).iterdir())


def test_store_symlink_refused(trees: tuple[Path, Path]) -> None:
    ws, out = trees
    store_path(ws).parent.mkdir(parents=True)
    os.symlink(out, store_path(ws))
    _refused(ws, out, v4a("*** Update File: a.txt\n@@\n-alpha\n+x"), "patch store")


@pytest.mark.parametrize(
    "path",
    ["evil\u202etxt.sh", "a\u200bb", ".g\u200cit/config", "x\u2066y", "soft\u00adhyphen"],
)
def test_invisible_and_bidi_characters_refused(trees: tuple[Path, Path], path: str) -> None:
    ws, out = trees
    _refused(ws, out, v4a(f"*** Add File: {path}\n+x"), "control characters")


@pytest.mark.parametrize("path", [".git./hooks/x", ".git /config", "GIT~1/config"])
def test_ntfs_aliases_of_git_are_protected(trees: tuple[Path, Path], path: str) -> None:
    ws, out = trees
    _refused(ws, out, v4a(f"*** Add File: {path}\n+x"), "protected")


def test_relative_given_root_does_not_widen_absolute_paths(
    trees: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, out = trees
    monkeypatch.chdir(ws)
    from app.patch.fsops import Workspace

    w = Workspace.at(Path("."))
    with pytest.raises(PatchError, match="outside the workspace"):
        w.normalize(str(out / "secret.txt"), given_root=Path("."))
    assert w.normalize(str(ws / "a.txt"), given_root=Path(".")) == "a.txt"


def test_replacing_keeps_owner_and_group(trees: tuple[Path, Path]) -> None:
    ws, _ = trees
    if os.geteuid() != 0:
        pytest.skip("needs root to hand a file to another owner")
    os.chown(ws / "a.txt", 65534, 65534)
    apply_text(ws, v4a("*** Update File: a.txt\n@@\n-alpha\n+beta"))
    st = (ws / "a.txt").stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534)
