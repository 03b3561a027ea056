"""The workspace of a session whose container runs on another podman host (`--podman-connection`).

The local workspace is the truth and is never written here. Before each command the container's
copy (a podman volume mounted at the workspace's own path) is made equal to it: what changed
locally since the last sync, and whatever the last command changed there, is uploaded (a tar
through `podman cp`), what is gone is removed. After the command, what it changed is found by
ctime (`find -newerct` against the container's clock taken just before; a command cannot set a
ctime back), fetched with tar, and turned into a unified patch against the local files: the
console reviews it like any other patch (`lockgate patch check|apply`), nothing is applied here.
"""

from __future__ import annotations

import difflib
import io
import os
import stat
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sandbox.podman.cli import Podman
from sandbox.policy import SandboxError


@dataclass(frozen=True)
class Entry:
    kind: str  # "f" file, "d" dir, "l" symlink
    size: int
    mtime_ns: int
    mode: int
    link: str = ""


@dataclass(frozen=True)
class Changes:
    patch: str  # unified diff, "" when nothing text-like changed
    files: tuple[str, ...]  # every path the command changed, created or removed (relative)
    unpatchable: tuple[str, ...]  # binary files, symlinks, modes: listed, not in the patch


def listing(root: str) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, rel) if rel else root))
        except OSError:
            continue
        for e in entries:
            name = f"{rel}/{e.name}" if rel else e.name
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                out[name] = Entry("d", 0, 0, stat.S_IMODE(mode))
                stack.append(name)
            elif stat.S_ISREG(mode):
                out[name] = Entry("f", st.st_size, st.st_mtime_ns, stat.S_IMODE(mode))
            elif stat.S_ISLNK(mode):
                out[name] = Entry("l", 0, 0, 0, os.readlink(e.path))
    return out


class RemoteWorkspace:
    def __init__(self, podman: Podman, workspace: str, container: str) -> None:
        self.podman = podman
        self.ws = workspace
        self.cid = container
        self.synced: dict[str, Entry] = {}
        self.dirty: set[str] = set()
        self.pushes = 0

    def _exec(self, *argv: str, input: bytes | None = None) -> bytes:
        args = ["exec", *(["-i"] if input is not None else []), self.cid, *argv]
        r = self.podman.call(*args, input=input, timeout=300, check=False)
        if r.returncode != 0:
            tail = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise SandboxError(f"podman backend (remote): {argv[0]} failed: {tail[0][:200]}")
        return r.stdout

    def push(self) -> str:
        """Make the container's copy equal to the local workspace; returns the container's
        clock just after (the reference for `pull`)."""
        local = listing(self.ws)
        upload = [p for p, e in local.items() if self.synced.get(p) != e or p in self.dirty]
        gone = sorted((set(self.synced) | self.dirty) - set(local), reverse=True)
        if upload:
            # a tar of any size, on disk rather than in memory
            with tempfile.TemporaryFile() as buf:
                self._tar(buf, upload)
                buf.seek(0)
                self.podman.call("cp", "-", f"{self.cid}:{self.ws}", stdin=buf, timeout=3600)
        script = 'cd "$0" || exit 1; for p in "$@"; do rm -rf -- "./$p"; done; date +%s.%N'
        clock = self._exec("/bin/sh", "-c", script, self.ws, *gone).decode().strip()
        self.synced = local
        self.dirty = set()
        self.pushes += 1
        if not clock.replace(".", "").isdigit():
            raise SandboxError(f"podman backend (remote): no clock from the container: {clock!r}")
        return clock

    def _tar(self, out: IO[bytes], rels: list[str]) -> None:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel in sorted(rels):
                path = os.path.join(self.ws, rel)
                try:
                    info = tar.gettarinfo(path, arcname=rel)
                except OSError:
                    continue
                info.uname = info.gname = ""
                if info.isdir() or info.issym():
                    tar.addfile(info)
                elif info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)

    def pull(self, clock: str) -> Changes:
        """What the command changed in the container, as a patch against the local files."""
        raw = self._exec(
            "/bin/sh", "-c",
            'cd "$0" && find . -mindepth 1 -newerct "@$1" -print0 && printf "\\0\\0" '
            "&& find . -mindepth 1 -print0",
            self.ws, clock,
        )  # fmt: skip
        changed_raw, _, names_raw = raw.partition(b"\0\0")
        changed = {_rel(n) for n in changed_raw.split(b"\0") if n}
        present = {_rel(n) for n in names_raw.split(b"\0") if n}
        removed = {p for p in self.synced if p not in present}
        # a removed directory's entries are removed too: listed once, by the directory
        self.dirty = changed | removed
        files = sorted(self.dirty)
        contents = self._fetch(sorted(changed))
        diff: list[str] = []
        unpatchable: list[str] = []
        for rel in files:
            local = self.synced.get(rel)
            remote = contents.get(rel)
            if rel in removed:
                if local is not None and local.kind == "f":
                    old = _text(os.path.join(self.ws, rel))
                    if old is None:
                        unpatchable.append(f"{rel} (binary, removed)")
                    else:
                        diff += _unified(rel, old, "", deleted=True)
                elif local is not None and local.kind == "l":
                    unpatchable.append(f"{rel} (symlink, removed)")
                continue
            if remote is None:
                continue  # a directory whose entries changed: they are listed themselves
            kind, data, mode = remote
            if kind == "l":
                unpatchable.append(f"{rel} (symlink -> {data.decode(errors='replace')})")
                continue
            try:
                new = data.decode()
            except UnicodeDecodeError:
                unpatchable.append(f"{rel} (binary)")
                continue
            if "\0" in new:
                unpatchable.append(f"{rel} (binary)")
                continue
            old = "" if local is None or local.kind != "f" else _text(os.path.join(self.ws, rel))
            if old is None:
                unpatchable.append(f"{rel} (binary before)")
                continue
            if local is not None and local.kind == "f" and local.mode != mode:
                unpatchable.append(f"{rel} (mode {oct(local.mode)} -> {oct(mode)})")
            if old != new or local is None:
                diff += _unified(rel, old, new, created=local is None)
        return Changes("".join(diff), tuple(files), tuple(unpatchable))

    def _fetch(self, rels: list[str]) -> dict[str, tuple[str, bytes, int]]:
        if not rels:
            return {}
        raw = self.podman.call(
            "exec", "-i", self.cid, "tar", "-C", self.ws, "--null", "--no-recursion",
            "-T", "-", "-cf", "-",
            input=b"".join(f"./{r}".encode() + b"\0" for r in rels), timeout=300, check=False,
        ).stdout  # fmt: skip
        out: dict[str, tuple[str, bytes, int]] = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for info in tar:
                rel = _rel(info.name.encode())
                if info.isfile():
                    f = tar.extractfile(info)
                    out[rel] = ("f", f.read() if f else b"", info.mode & 0o7777)
                elif info.issym():
                    out[rel] = ("l", info.linkname.encode(), 0)
        return out


def _rel(name: bytes) -> str:
    text = os.fsdecode(name)
    return text[2:] if text.startswith("./") else text


def _text(path: str) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def _unified(
    rel: str, old: str, new: str, *, created: bool = False, deleted: bool = False
) -> list[str]:
    a = "/dev/null" if created else f"a/{rel}"
    b = "/dev/null" if deleted else f"b/{rel}"
    lines = list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), a, b, n=3))
    out = [f"diff --git a/{rel} b/{rel}\n"]  # git's header: a/ and b/ are prefixes
    if created:
        out.append("new file mode 100644\n")
    elif deleted:
        out.append("deleted file mode 100644\n")
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return out


def save_patch(patch: str) -> Path:
    """The patch in a directory of the user's own (0700), kept after the session."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    d = base / "lockgate" / "remote-patches"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}.patch"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(patch)
    return path


__all__ = ["Changes", "RemoteWorkspace", "listing", "save_patch"]
