"""Shared helpers for the patch engine tests: tree snapshots and a CLI runner."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from app.cli.patch_cmd import cli as patch_cli

Entry = tuple[str, bytes | str, int, int]


def snapshot(root: Path, *, skip_store: bool = False) -> dict[str, Entry]:
    """Every entry under root: kind, bytes (or link target), mode, inode — byte-for-byte state."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        if skip_store and (rel_dir == ".lockgate" or rel_dir.startswith(".lockgate/")):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if skip_store and rel == ".lockgate":
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p), st.st_mode, st.st_ino)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", b"", stat.S_IMODE(st.st_mode), st.st_ino)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", Path(p).read_bytes(), stat.S_IMODE(st.st_mode), st.st_ino)
            else:
                out[rel] = ("other", b"", st.st_mode, st.st_ino)
    return out


def contents(root: Path) -> dict[str, bytes | str]:
    """Snapshot without inode numbers or dir modes: what a reader of the files would see."""
    return {
        rel: (kind + ":" + str(data)) if kind != "file" else data
        for rel, (kind, data, _mode, _ino) in snapshot(root, skip_store=True).items()
        if kind != "dir"
    } | {rel: "dir" for rel, e in snapshot(root, skip_store=True).items() if e[0] == "dir"}


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            p.write_bytes(data.encode("utf-8"))
        else:
            p.write_bytes(data)


def run_patch(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(patch_cli, list(args), input=input, catch_exceptions=False)


def v4a(body: str) -> str:
    return "*** Begin Patch\n" + body.strip("\n") + "\n*** End Patch\n"


def apply_text(root: Path, text: str, approved: frozenset[str] = frozenset()) -> object:
    """Parse, plan and apply `text` in `root` the way the CLI does."""
    from app.patch import parse_patch
    from app.patch.apply import apply_plan
    from app.patch.plan import build_plan

    return apply_plan(build_plan(parse_patch(text), root, approved=approved))


def plan_text(root: Path, text: str, approved: frozenset[str] = frozenset()) -> object:
    from app.patch import parse_patch
    from app.patch.plan import build_plan

    return build_plan(parse_patch(text), root, approved=approved)
