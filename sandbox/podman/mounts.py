"""The container's mounts, from the checked policy and one run's Prepared (the same protected-path
data the Linux backend binds): the workspace and writable roots read-write at their own paths,
the `.git` directories as mount points (they cannot be renamed away), every existing protected
path read-only, the readable roots and toolchains read-only, the hidden stores masked where they
fall inside anything mounted. Nothing else of the host is in the container; the home and its
secrets are never mounted.

A container's mounts are fixed when it starts, so the backend compares `Layout.key` before each
command and starts a new container when the protected set or the identity of anything mounted
changed (a host rename over a protected file detaches a bind, as in the Linux backend).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sandbox.linux.mounts import BREAK_FILE_MAX, break_link, scan_writable
from sandbox.linux.unix_sockets import PROC_NET_UNIX, bound_paths
from sandbox.paths import within_any
from sandbox.policy import SandboxError, SandboxPolicy
from sandbox.workspace import Prepared

CTL = "/.lockgate"
DEV_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
PROXY_IN = f"{CTL}/proxy.sock"


@dataclass(frozen=True)
class Bind:
    src: str
    dst: str
    ro: bool


@dataclass(frozen=True)
class Layout:
    binds: tuple[Bind, ...]
    masks_dir: tuple[str, ...]  # hidden directories: an empty read-only tmpfs over each
    masks_file: tuple[str, ...]  # hidden files: /dev/null over each
    key: tuple[object, ...]  # what a running container must match to be reused

    def args(self) -> list[str]:
        out: list[str] = []
        for b in self.binds:
            # nodev: a device node in the workspace (or any mounted tree) opens to nothing,
            # only the container's own /dev works; nosuid as the Linux backend's binds
            opt = ",nodev,nosuid" + (",ro=true" if b.ro else "")
            out += ["--mount", f"type=bind,src={_safe(b.src)},dst={_safe(b.dst)}{opt}"]
        for d in self.masks_dir:
            out += ["--mount", f"type=tmpfs,dst={_safe(d)},tmpfs-size=4k,tmpfs-mode=0,ro=true"]
        for f in self.masks_file:
            out += ["--mount", f"type=bind,src=/dev/null,dst={_safe(f)},ro=true"]
        # the device nodes commands use, read-only binds of themselves as in the Linux
        # backend's /dev: reading and writing work, chmod/utime/xattrs on them do not
        for node in DEV_NODES:
            out += ["--mount", f"type=bind,src={node},dst={node},ro=true"]
        return out


def _safe(path: str) -> str:
    """--mount is comma- and equals-separated: a path that would change its meaning is refused
    (fail closed), never quoted around."""
    if any(c in path for c in ",=\n\r\"'") or not path.startswith("/"):
        raise SandboxError(f"podman backend: cannot mount a path with ',', '=' or quotes: {path!r}")
    return path


def _bound_sockets() -> list[str]:
    try:
        with open(PROC_NET_UNIX, encoding="utf-8", errors="surrogateescape") as f:
            table = f.read()
    except OSError:
        return []
    out: list[str] = []
    for bound in bound_paths(table):
        path = os.path.join(os.path.realpath(os.path.dirname(bound)), os.path.basename(bound))
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                out.append(path)
    return out


def _real(path: str, ro: bool) -> Bind:
    real = os.path.realpath(path)
    return Bind(real, real, ro)


def _ident(path: str) -> tuple[int, int, int]:
    try:
        st = os.lstat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_dev, st.st_ino, st.st_mode)


def layout(
    policy: SandboxPolicy,
    prepared: Prepared,
    *,
    host_ro: tuple[str, ...] = (),
    proxy_socket: Path | None = None,
) -> Layout:
    ws = str(policy.workspace)
    writable = [ws, *(str(w) for w in policy.writable)]
    binds: list[Bind] = [Bind(w, w, False) for w in writable]
    # at their real paths: podman mounts parents before children by the destination's depth,
    # and a path through a symlink (`.git -> repos/main.git`) would sort before the directory
    # it lies in and be covered by that directory's own bind
    binds += [_real(d, False) for d in prepared.git_dirs]
    binds += [_real(p, True) for p in prepared.read_only]
    # the writable trees as the Linux backend secures them (its own walk): sockets found there
    # are covered below, and each file with other names (a pnpm/uv store's hard link) gets an
    # inode of its own by a copy, or, too big or failing, a read-only bind of itself
    allow = [str(a) for a in getattr(policy, "allow_unix_sockets", ())]
    tree_sockets, linked = scan_writable(writable, allow)
    for path in linked:
        try:
            small = os.lstat(path).st_size <= BREAK_FILE_MAX
            if small and break_link(path):
                continue
        except OSError:
            pass
        if os.path.lexists(path):
            binds.append(Bind(path, path, True))
    for r in (*host_ro, *(str(x) for x in (*policy.readable, *policy.toolchains))):
        if os.path.exists(r) and not within_any(r, writable) and r != "/":
            binds.append(Bind(r, r, True))
    if proxy_socket is not None and policy.network == "proxy":
        binds.append(Bind(str(proxy_socket), PROXY_IN, True))
    seen: dict[str, Bind] = {}
    for b in binds:
        seen.setdefault(b.dst, b)  # the first (the writable root, the protected path) wins
    binds = list(seen.values())
    sources = [b.src for b in binds if b.src != str(proxy_socket)]
    masks_dir: list[str] = []
    masks_file: list[str] = []
    for d in policy.deny_read:
        p = str(d)
        if not within_any(p, sources) or not os.path.lexists(p):
            continue
        real = os.path.realpath(p)
        (masks_dir if os.path.isdir(real) else masks_file).append(real)
    # host services' unix sockets inside anything mounted (a dev server's or docker's socket
    # in the workspace): covered, as the Linux backend covers them; the policy's allowed ones
    # stay reachable
    allowed = {os.path.realpath(a) for a in getattr(policy, "allow_unix_sockets", ())}
    if proxy_socket is not None:
        allowed.add(os.path.realpath(proxy_socket))
    for sock in [*tree_sockets, *_bound_sockets()]:
        if sock not in allowed and within_any(sock, sources) and sock not in masks_file:
            masks_file.append(sock)
    key = (
        tuple((b.src, b.dst, b.ro, _ident(b.src)) for b in binds),
        tuple(masks_dir),
        tuple(masks_file),
    )
    return Layout(tuple(binds), tuple(masks_dir), tuple(masks_file), key)
