"""The first step of a jail: a process that gives itself a private user and mount namespace,
mounts an overlayfs over the workspace (lower: the real workspace, read-only to it; upper: a
directory private to lockgate, outside the workspace), then execs the sandbox zygote.

Every sandbox the zygote makes from then on copies this mount namespace, so the jailed agent
(and whatever it runs) sees the workspace at its usual path, writes land in the upper layer, and
the real files are never touched. The overlay mount is owned by this namespace: from the nested
sandbox namespaces it is locked (it cannot be unmounted to uncover anything).

Runs as `python -I -S -c CODE ROOT WORKSPACE UPPER WORK -- ZYGOTE_ARGV...`; stdlib and this
package only. A failure prints one line on stderr and exits 125, so the console can refuse with
that reason.
"""

from __future__ import annotations

import os
import sys

from sandbox.linux import namespaces
from sandbox.linux import syscalls as sc


def overlay_options(lower: str, upper: str, work: str) -> str:
    for p in (lower, upper, work):
        if "," in p or ":" in p or "\\" in p:
            raise ValueError(f"path {p!r} cannot be an overlay layer (',' ':' or '\\\\' in it)")
    # userxattr: the only way overlayfs may keep its metadata when mounted in a user namespace.
    return f"lowerdir={lower},upperdir={upper},workdir={work},userxattr"


def enter(workspace: str, upper: str, work: str) -> None:
    uid, gid = os.getuid(), os.getgid()
    sc.unshare(sc.CLONE_NEWUSER | sc.CLONE_NEWNS)
    namespaces.write_id_maps(uid, gid)
    # Nothing mounted here may propagate back to the host's namespace.
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
    sc.mount("overlay", workspace, "overlay", 0, overlay_options(workspace, upper, work))


def main(argv: list[str]) -> None:
    try:
        workspace, upper, work, sep, *rest = argv
        if sep != "--" or not rest:
            raise ValueError("usage: WORKSPACE UPPER WORK -- ARGV...")
        enter(workspace, upper, work)
    except (OSError, ValueError) as exc:
        os.write(2, f"lockgate-jail: cannot build the copy-on-write workspace: {exc}\n".encode())
        os._exit(125)
    sys.stdout.flush()
    os.execv(rest[0], rest)


def bootstrap_prefix(python: str, workspace: str, upper: str, work: str) -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from sandbox.linux.jail_overlay import main; main(sys.argv[2:])"
    )
    return [python, "-I", "-S", "-c", code, root, workspace, upper, work, "--"]
