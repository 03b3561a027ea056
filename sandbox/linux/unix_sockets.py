"""Host services listening on pathname unix sockets outside the private views.

A network namespace does not stop `connect()` to a pathname unix socket, and Landlock (up to
ABI 7) does not either, so /tmp, /run and $XDG_RUNTIME_DIR get empty views. Services also bind
sockets elsewhere (/var/lib/…, a home directory, the workspace); the kernel lists every bound
socket of the host's network namespace in /proc/net/unix, and each one found there is covered
with an empty read-only file, so connecting to it is refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from sandbox.linux.mounts import under_private

PROC_NET_UNIX = "/proc/net/unix"
# A bound on the mounts one run may need; a host with more bound sockets than this outside the
# private views gets the first ones covered and the rest left to the other layers.
MAX_SOCKETS = 4096


def bound_paths(table: str) -> list[str]:
    """Absolute paths of bound pathname sockets in a /proc/net/unix text (abstract ones, shown
    with a leading @, and relative ones are left out)."""
    out: list[str] = []
    for line in table.splitlines()[1:]:
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[7].startswith("/"):
            out.append(fields[7])
    return out


def host_sockets(private: Sequence[str], writable: Sequence[str] = ()) -> list[str]:
    """Socket files that exist now outside the private views (or inside a writable tree, which
    stays reachable under them), deduplicated, in table order."""
    try:
        with open(PROC_NET_UNIX, encoding="utf-8", errors="surrogateescape") as f:
            table = f.read()
    except OSError:
        return []
    seen: dict[str, None] = {}
    for bound in bound_paths(table):
        path = os.path.join(os.path.realpath(os.path.dirname(bound)), os.path.basename(bound))
        if path in seen or (under_private(path, private) and not under_private(path, writable)):
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISSOCK(st.st_mode):
            seen[path] = None
            if len(seen) >= MAX_SOCKETS:
                break
    return list(seen)
