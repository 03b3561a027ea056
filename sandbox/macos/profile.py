"""A Seatbelt (SBPL) profile generated from the same SandboxPolicy as the Linux sandbox.

Deny by default; read everywhere except the denied secrets; write only the workspace, the
writable roots and a private TMPDIR, minus the protected names (Seatbelt matches paths, so a
protected name is covered even when it does not exist yet); no network, or only the proxy's
loopback port. Every path reaches the profile as a `-D` parameter, never as profile text, so no
path can change the profile's meaning.
"""

from __future__ import annotations

import contextlib
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from sandbox.policy import SandboxPolicy

BASE = """(version 1)
(deny default)
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))
(allow sysctl-read)
(allow file-read-metadata)
(allow pseudo-tty)
(allow file-ioctl (literal "/dev/null") (literal "/dev/zero") (literal "/dev/random")
    (literal "/dev/urandom") (literal "/dev/dtracehelper"))
(allow file-write-data (literal "/dev/null") (literal "/dev/zero") (literal "/dev/dtracehelper"))
(allow mach-lookup
    (global-name "com.apple.system.opendirectoryd.libinfo")
    (global-name "com.apple.system.notification_center")
    (global-name "com.apple.logd")
    (global-name "com.apple.system.logger"))
(allow ipc-posix-sem)
(allow ipc-posix-shm-read-data)
"""


@dataclass(frozen=True)
class SeatbeltProfile:
    text: str
    params: tuple[tuple[str, str], ...]

    def argv(self, command: list[str]) -> list[str]:
        """The sandbox-exec invocation: profile text, then -D KEY=VALUE, then the command."""
        out = ["/usr/bin/sandbox-exec", "-p", self.text]
        for key, value in self.params:
            out += ["-D", f"{key}={value}"]
        return [*out, "--", *command]


def protected_names(workspace: Path, patterns: tuple[str, ...]) -> list[str]:
    """Seatbelt has no portable glob filter: a pattern becomes its stem (`.lockgate*` ->
    `.lockgate`) plus every name matching it now; a name created later that only the glob
    covers is removed by the workspace guard after the command, as on Linux."""
    out: list[str] = []
    for pattern in patterns:
        if not set(pattern) & set("*?["):
            out.append(pattern)
            continue
        parent, _, name = pattern.rpartition("/")
        stem = name.split("*")[0].split("?")[0].split("[")[0]
        base = workspace / parent if parent else workspace
        found = [stem] if stem else []
        with contextlib.suppress(OSError):
            found += sorted(p.name for p in base.iterdir() if fnmatch.fnmatchcase(p.name, name))
        out += [f"{parent}/{n}" if parent else n for n in dict.fromkeys(found)]
    return out


def build_profile(policy: SandboxPolicy, tmpdir: Path) -> SeatbeltProfile:
    params: list[tuple[str, str]] = [("TMPDIR", str(tmpdir))]
    lines = [BASE, "(allow file-read*)"]
    for i, path in enumerate(policy.deny_read):
        key = f"DENY_{i}"
        params.append((key, str(path)))
        lines.append(f'(deny file-read* (subpath (param "{key}")))')
    roots = [policy.workspace, *policy.writable]
    names = protected_names(policy.workspace, policy.protected)
    for i, root in enumerate(roots):
        key = f"WRITABLE_{i}"
        params.append((key, str(root)))
        filters: list[str] = []
        if i == 0:
            for j, name in enumerate(names):
                pkey = f"PROTECTED_{j}"
                params.append((pkey, str(root / name)))
                filters.append(f'(require-not (subpath (param "{pkey}")))')
            params.append(("GIT_DIR", str(root / ".git")))
            filters.append('(require-not (literal (param "GIT_DIR")))')  # .git stays put
        inner = " ".join([f'(subpath (param "{key}"))', *filters])
        lines.append(f"(allow file-write* (require-all {inner}))")
    lines.append('(allow file-write* (subpath (param "TMPDIR")))')
    if policy.network == "proxy":
        params.append(("PROXY_PORT", str(policy.proxy_port)))
        lines.append(f'(allow network-outbound (remote tcp "localhost:{int(policy.proxy_port)}"))')
    else:
        lines.append("(deny network*)")
    return SeatbeltProfile("\n".join(lines) + "\n", tuple(params))
