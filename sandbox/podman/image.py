"""`lockgate sandbox image build`: a default image for the podman backend with no registry.

Made from the host's own root file system and streamed into `podman import`:
  host mode (default, seconds): a skeleton root (the usual top-level directories, the merged-/usr
      symlinks) and a sanitised copy of /etc; the image's label `lockgate.host_ro` names the host
      directories (/usr, and /bin /sbin /lib* where they are not symlinks) the backend mounts
      read-only at run time — the host's toolchain, as the Linux backend shows it.
  copy mode (`--copy`, minutes: the whole of /usr is read): those directories are copied into
      the image, which is then self-contained (another host, `podman save`).
/etc is sanitised: only entries every user may read go in (a secret is never world-readable),
and known secret stores are left out by name even when they are (ssh host keys, shadow, …).
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.podman.cli import Podman
from sandbox.policy import SandboxError

HOST_RO_LABEL = "lockgate.host_ro"
SKELETON = ("tmp", "proc", "sys", "dev", "run", "var/tmp", "var/lib", "var/cache", "home",
            "root", "mnt", "opt", "srv", "usr", "etc")  # fmt: skip
MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Names under /etc never copied, even when world-readable.
ETC_DENY = ("shadow", "shadow-", "gshadow", "gshadow-", "ssh", "ssl/private", "sudoers",
            "sudoers.d", "security/opasswd", "krb5.keytab", "NetworkManager/system-connections",
            "wpa_supplicant", "docker", "containers/auth.json", "lockgate", "machine-id",
            "credstore", "credstore.encrypted", "netrc", "ipsec.secrets", "ppp/chap-secrets",
            "ppp/pap-secrets", "letsencrypt")  # fmt: skip


@dataclass(frozen=True)
class Built:
    ref: str
    mode: str
    host_ro: tuple[str, ...]
    files: int
    bytes: int
    seconds: float


def _etc_allowed(rel: str) -> bool:
    return not any(rel == deny or rel.startswith(deny + "/") for deny in ETC_DENY)


def _readable_by_all(st: os.stat_result) -> bool:
    if stat.S_ISLNK(st.st_mode):
        return True
    if stat.S_ISDIR(st.st_mode):
        return bool(st.st_mode & stat.S_IROTH) and bool(st.st_mode & stat.S_IXOTH)
    return bool(st.st_mode & stat.S_IROTH)


def host_dirs(root: str = "/") -> tuple[str, ...]:
    """The host directories the image's programs come from: /usr, and each of /bin /sbin
    /lib* that is a real directory (not merged into /usr)."""
    out = ["/usr"]
    for name in MERGED:
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            out.append("/" + name)
    return tuple(out)


class _Counter:
    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0


def _add_tree(
    tar: tarfile.TarFile,
    src: str,
    arc: str,
    count: _Counter,
    keep: Callable[[str, os.stat_result], bool],
) -> None:
    """Add src as arc, recursively, without following symlinks, skipping what `keep` refuses
    and what cannot be read (sockets, fifos and devices are left out)."""
    stack = [(src, arc)]
    while stack:
        path, name = stack.pop()
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not keep(name, st):
            continue
        mode = st.st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            continue
        try:
            info = tar.gettarinfo(path, arcname=name)
        except OSError:
            continue
        info.uname = info.gname = ""
        if stat.S_ISREG(mode):
            try:
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            except OSError:
                continue
            count.bytes += st.st_size
        else:
            tar.addfile(info)
        count.files += 1
        if stat.S_ISDIR(mode):
            try:
                names = sorted(os.listdir(path), reverse=True)
            except OSError:
                continue
            stack += [(os.path.join(path, n), f"{name}/{n}") for n in names]


def _dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def write_rootfs_tar(out: io.BufferedIOBase, *, copy: bool, root: str = "/") -> tuple[int, int]:
    """The image's root file system as a tar stream; returns (entries, bytes of file data)."""
    count = _Counter()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for d in SKELETON:
            if d == "etc" or (copy and d == "usr"):
                continue  # added whole below
            _dir(tar, d, 0o1777 if d in ("tmp", "var/tmp") else 0o755)
        for name in MERGED:
            path = os.path.join(root, name)
            if os.path.islink(path):
                info = tarfile.TarInfo(name)
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(path)
                tar.addfile(info)
            elif os.path.isdir(path) and not copy:
                _dir(tar, name)  # a mount point for the host's directory

        def etc_keep(name: str, st: os.stat_result) -> bool:
            rel = name[len("etc/") :] if name.startswith("etc/") else ""
            return (not rel or _etc_allowed(rel)) and _readable_by_all(st)

        _add_tree(tar, os.path.join(root, "etc"), "etc", count, etc_keep)
        if copy:
            for d in host_dirs(root):
                _add_tree(tar, os.path.join(root, d.lstrip("/")), d.lstrip("/"), count,
                          lambda _n, _st: True)  # fmt: skip
    return count.files, count.bytes


def build(podman: Podman, ref: str, *, copy: bool = False) -> Built:
    """Stream the root file system into `podman import` (nothing is written to disk but the
    image itself)."""
    started = time.monotonic()
    host_ro = () if copy else host_dirs()
    args = ["import", "--change", 'CMD ["/bin/sh"]', "--message", "lockgate sandbox image"]
    label = ":".join(host_ro)
    args += ["--change", f"LABEL {HOST_RO_LABEL}={label or '-'}"]
    args += ["-", ref]
    proc = subprocess.Popen(
        podman.argv(*args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None
    try:
        files, size = write_rootfs_tar(proc.stdin, copy=copy)  # type: ignore[arg-type]
    except BrokenPipeError:
        files = size = 0
    finally:
        proc.stdin.close()
    assert proc.stderr is not None and proc.stdout is not None
    proc.stdout.read()
    err = proc.stderr.read()
    proc.wait()
    if proc.returncode != 0:
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        raise SandboxError(f"podman import failed: {lines[-1] if lines else proc.returncode}")
    return Built(ref, "copy" if copy else "host", host_ro, files, size, time.monotonic() - started)
