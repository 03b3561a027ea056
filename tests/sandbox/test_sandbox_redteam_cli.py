"""Red-team cases against the real `lockgate sandbox run` CLI, as root and as uid 65534.

Each case runs a hostile command through the CLI in a fresh area under /tmp (a workspace next
to host files that stay visible to a write-through), then checks the host side: names, modes,
owners, times, xattrs and contents unchanged, host listeners never reached, host processes
alive, secrets and keys absent from the output. As uid 65534 the project's venv (under /root,
mode 700) is out of reach, so the CLI runs from a staged copy of `app`, `sandbox` and the few
pure-Python packages it imports, with a system Python >= 3.11.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox import KernelSupport
from sandbox.linux.unix_sockets import bound_paths

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
PY = "/usr/bin/python3"  # what the command runs inside: readable by both users
PURE_DEPS = ("click", "platformdirs", "tomli_w")
OUTER = "/home" if os.path.isdir("/home") else "/srv"  # outside every private view
MARKERS = (b"SECRET-SSH", b"SECRET-AWS", b"SECRET-NETRC", b"SECRET-GITCRED", b"SECRET-LGCFG",
           b"sk-redteam", b"ghp_redteam", b"AWSREDTEAM", b"AKIAREDTEAM")  # fmt: skip


@dataclass(frozen=True)
class Runner:
    """How to start the CLI as one user."""

    user: str
    prefix: tuple[str, ...]
    env: dict[str, str]

    def run(
        self,
        area: Area,
        *argv: str,
        opts: tuple[str, ...] = (),
        stdin: bytes | None = None,
        cwd: Path | None = None,
        extra_env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[bytes]:
        env = {**self.env, **area.env, **(extra_env or {})}
        cmd = [*self.prefix, "sandbox", "run", "--workspace", str(area.ws), *opts, "--", *argv]
        return subprocess.run(
            cmd,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=env,
            cwd=str(cwd or area.root),
            timeout=timeout,
        )

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*self.prefix, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={**self.env, **(env or {})},
            timeout=60,
        )


@dataclass
class Area:
    """Two temporary trees, owned by the user the CLI runs as, so only the sandbox (not file
    permissions) stands between the command and the host files:
    /tmp/lockgate-rt-*/ holds ws (the workspace) and sib (its /tmp siblings, which a private
    /tmp hides); /home/lockgate-rt-*/ (a place the command does see, read-only) holds vis (host
    files) and home (a $HOME with secrets and the console's config dir)."""

    root: Path
    outer: Path
    uid: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ws(self) -> Path:
        return self.root / "ws"

    @property
    def sib(self) -> Path:
        return self.root / "sib"

    @property
    def vis(self) -> Path:
        return self.outer / "vis"

    @property
    def home(self) -> Path:
        return self.outer / "home"


def _make_area(uid: int) -> Area:
    root = Path(tempfile.mkdtemp(prefix="lockgate-rt-", dir="/tmp"))
    outer = Path(tempfile.mkdtemp(prefix="lockgate-rt-", dir=OUTER))
    area = Area(root, outer, uid)
    area.ws.mkdir()
    for sib in (area.sib, area.vis):
        sib.mkdir()
        (sib / "victim.txt").write_text("host file\n")
        (sib / "sub").mkdir()
        (sib / "sub" / "deep.txt").write_text("deep\n")
    home = area.home
    for rel, text in {
        ".ssh/id_rsa": "SECRET-SSH",
        ".aws/credentials": "SECRET-AWS",
        ".netrc": "machine x password SECRET-NETRC",
        ".git-credentials": "https://u:SECRET-GITCRED@example.invalid",
        ".bashrc": "# host bashrc\n",
        ".config/lockgate/config.toml": '[keys]\nopenai = "SECRET-LGCFG"\n',
    }.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cfg = home / ".config" / "lockgate"
    (home / ".local" / "share" / "lockgate").mkdir(parents=True)
    area.env = {
        "HOME": str(home),
        "LOCKGATE_CONFIG_DIR": str(cfg),
        "LOCKGATE_DATA_DIR": str(home / ".local" / "share" / "lockgate"),
        "OPENAI_API_KEY": "sk-redteam",
        "GITHUB_TOKEN": "ghp_redteam",
        "AWS_SECRET_ACCESS_KEY": "AWSREDTEAM",
        "AWS_ACCESS_KEY_ID": "AKIAREDTEAM",
    }
    for top in (root, outer):
        for path in [top, *top.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
        os.chmod(top, 0o755)
    return area


def _snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[Any, ...]]:
    """Everything a write could change: names, types, modes, owners, times, xattrs, contents."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and Path(dirpath) == skip.parent:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        if dirpath.endswith("/home/.local/share"):
            # the console's own data dir (LOCKGATE_DATA_DIR): the console (not the command)
            # may keep state there, e.g. the one-shot read allow-list cache
            dirnames[:] = [d for d in dirnames if d != "lockgate"]
        for name in ["", *dirnames, *filenames]:
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            digest = ""
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(Path(p).read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(p)
            try:
                xattrs = tuple(sorted(os.listxattr(p, follow_symlinks=False)))
            except OSError:
                xattrs = ()
            out[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_size, digest, xattrs)
    return out


def _dev_nodes() -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        st = os.stat(f"/dev/{name}")
        # /dev/tty's mtime moves whenever any host process writes through its own controlling
        # terminal (a test on another worker does, under `script`): its mode, owner and ctime
        # still show a change made to the node itself
        mtime = 0 if name == "tty" else st.st_mtime_ns
        out[name] = (st.st_mode, st.st_uid, mtime, st.st_ctime_ns)
    return out


def _system_python() -> str | None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not os.path.exists(PY):
        return None
    ok = subprocess.run(
        [*NOBODY, PY, "-I", "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
        capture_output=True,
    )
    return PY if ok.returncode == 0 else None


@pytest.fixture(scope="module")
def c_probe() -> Iterator[Path | None]:
    """The syscall probe, compiled once (None when no C compiler)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        yield None
        return
    out = Path(tempfile.mkdtemp(prefix="lockgate-rt-cc-"))
    try:
        src = out / "probe.c"
        src.write_text(C_PROBE)
        r = subprocess.run([cc, "-O0", "-o", str(out / "probe"), str(src)], capture_output=True)
        yield out / "probe" if r.returncode == 0 else None
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module", params=["root", "nobody"])
def runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    base_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    if request.param == "root":
        if os.geteuid() != 0:
            pytest.skip("the root half needs root")
        # PYTHONPATH passes through so the same cases can be run against an older tree
        # (to show that a case failed before its fix)
        extra = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
        yield Runner("root", (sys.executable, "-m", "app"), {**base_env, **extra})
        return
    python = _system_python()
    if python is None:
        pytest.skip("needs root, setpriv and a Python >= 3.11 that uid 65534 can run")
    stage = Path(tempfile.mkdtemp(prefix="lockgate-rt-stage-"))
    try:
        ignore = shutil.ignore_patterns("__pycache__")
        for pkg in ("app", "sandbox"):
            shutil.copytree(REPO / pkg, stage / pkg, ignore=ignore)
        for dep in PURE_DEPS:
            origin = __import__(dep).__file__
            assert origin is not None
            shutil.copytree(Path(origin).parent, stage / dep, ignore=ignore)
        for path in [stage, *stage.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        yield Runner(
            "nobody",
            (*NOBODY, python, "-I", "-c", _NOBODY_MAIN.format(stage=str(stage))),
            base_env,
        )
    finally:
        shutil.rmtree(stage, ignore_errors=True)


_NOBODY_MAIN = (
    "import sys; sys.path[:0] = [{stage!r}]; sys.argv[0] = 'lockgate'; "
    "from app.cli import main; sys.exit(main())"
)


@pytest.fixture
def area(runner: Runner, support: KernelSupport) -> Iterator[Area]:
    a = _make_area(0 if runner.user == "root" else 65534)
    try:
        yield a
    finally:
        shutil.rmtree(a.root, ignore_errors=True)
        shutil.rmtree(a.outer, ignore_errors=True)


def _git(ws: Path, *args: str, uid: int = 0) -> subprocess.CompletedProcess[bytes]:
    """git on the host, as the reviewer (the workspace's owner)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ws), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    prefix = NOBODY if uid else []
    return subprocess.run([*prefix, "git", "-C", str(ws), *args], capture_output=True, env=env)


# --------------------------------------------------------------------------- writes


WRITES = r"""
import os, sys
home = sys.argv[1]
def attempt(name, fn):
    try:
        fn(); print(name, "DONE")
    except OSError as e:
        print(name, "denied", e.errno)
def append(p):
    with open(p, "a") as f: f.write("pwned\n")
for tag, sib in (("vis", sys.argv[2]), ("tmp", sys.argv[3])):
    v = sib + "/victim.txt"
    rel = os.path.relpath(sib, os.getcwd())
    attempt(tag + "write", lambda: append(v))
    attempt(tag + "create", lambda: open(sib + "/new.txt", "w").close())
    attempt(tag + "mkdir", lambda: os.mkdir(sib + "/newdir"))
    attempt(tag + "rename", lambda: os.rename(v, sib + "/moved"))
    attempt(tag + "unlink", lambda: os.unlink(sib + "/sub/deep.txt"))
    attempt(tag + "chmod", lambda: os.chmod(v, 0o777))
    attempt(tag + "chown", lambda: os.chown(v, 1, 1))
    attempt(tag + "utime", lambda: os.utime(v, (1, 1)))
    attempt(tag + "xattr", lambda: os.setxattr(v, "user.pwn", b"1"))
    attempt(tag + "truncate", lambda: os.truncate(v, 0))
    attempt(tag + "procroot", lambda: append("/proc/self/root" + v))
    attempt(tag + "proc1cwd", lambda: append("/proc/1/cwd/" + rel + "/victim.txt"))
    attempt(tag + "procselfcwd", lambda: append("/proc/self/cwd/" + rel + "/victim.txt"))
    attempt(tag + "dotdot", lambda: append(rel + "/victim.txt"))
    os.symlink(v, tag + "link")
    attempt(tag + "symlink", lambda: append(tag + "link"))
    attempt(tag + "hardlink", lambda: os.link(v, tag + "hl") or append(tag + "hl"))
    attempt(tag + "chmod_dir", lambda: os.chmod(sib, 0o700))
attempt("bashrc", lambda: append(home + "/.bashrc"))
attempt("profile", lambda: append(home + "/.profile"))
attempt("systemd", lambda: os.makedirs(home + "/.config/systemd/user"))
attempt("autostart", lambda: os.makedirs(home + "/.config/autostart"))
attempt("crontab", lambda: open("/var/spool/cron/crontabs/root", "w").close())
attempt("etc", lambda: append("/etc/profile"))
for dev in ("/dev/null", "/dev/zero", "/dev/tty", "/dev/random"):
    attempt("devchmod" + dev, lambda: os.chmod(dev, 0o600))
    attempt("devutime" + dev, lambda: os.utime(dev, (1, 1)))
    attempt("devxattr" + dev, lambda: os.setxattr(dev, "user.pwn", b"1"))
attempt("devnull_write", lambda: open("/dev/null", "w").write("ok"))
attempt("tmpfile", lambda: open("/tmp/scratch", "w").write("ok"))
attempt("wsfile", lambda: open("inws.txt", "w").write("ok"))
attempt("setuid", lambda: os.chmod("inws.txt", 0o4755))
attempt("setgid", lambda: os.fchmod(os.open("inws.txt", os.O_RDONLY), 0o2755))
attempt("setuid_creat", lambda: os.close(os.open("suid", os.O_CREAT | os.O_WRONLY, 0o4755)))
"""

# names whose attempt must succeed (the sandbox is usable); every other attempt must fail
WRITES_ALLOWED = {"devnull_write", "tmpfile", "wsfile", "symlink_dir"}


def test_writes_outside_the_workspace_leave_the_host_unchanged(runner: Runner, area: Area) -> None:
    before = _snapshot(area.root, skip=area.ws), _snapshot(area.outer)
    devs = _dev_nodes()
    r = runner.run(area, PY, "-c", WRITES, str(area.home), str(area.vis), str(area.sib),
                   cwd=area.ws)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (_snapshot(area.root, skip=area.ws), _snapshot(area.outer)) == before
    assert _dev_nodes() == devs
    results = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    done = {k for k, v in results.items() if v == "DONE"}
    assert done <= WRITES_ALLOWED, done - WRITES_ALLOWED
    assert {"devnull_write", "tmpfile", "wsfile"} <= done
    assert (area.ws / "inws.txt").read_text() == "ok"
    # no setuid/setgid file left in the workspace: with the console as root it would be a
    # setuid-root program on the host
    for path in area.ws.iterdir():
        assert not os.lstat(path).st_mode & 0o6000, path
    assert not (area.root.parent / "scratch").exists()


# --------------------------------------------------------------------------- protected names


PROTECTED = r"""
: > added.txt
git add added.txt && git -c user.name=t -c user.email=t@t commit -qm inside && echo COMMITTED
mkdir -p evil/hooks evil/objects evil/refs
cp .git/HEAD evil/HEAD
printf '[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch {marker}; echo"\n' > evil/config
printf '#!/bin/sh\ntouch {marker}\n' > evil/hooks/pre-commit
echo ../evil > .git/commondir
printf '[core]\n\tfsmonitor = "touch {marker}; echo"\n' > .git/config.worktree
echo x >> .git/config
echo x > .git/hooks/pre-commit
rm -rf .git/hooks/*
mv .git .git-moved
mv .git/hooks .git/hooks-moved
mkdir -p .claude .codex .cursor .vscode && echo pwn > .claude/settings.json
echo pwn > .lockgate.toml; echo pwn > .lockgate-x
ln -s evil .gemini
exit 0
"""


def test_protected_names_and_git_redirection(runner: Runner, area: Area) -> None:
    ws = area.ws
    assert _git(ws, "init", "-q", uid=area.uid).returncode == 0
    assert _git(ws, "commit", "-q", "--allow-empty", "-m", "first", uid=area.uid).returncode == 0
    hooks = ws / ".git" / "hooks"
    (ws / "githooks").mkdir()
    shutil.rmtree(hooks)
    os.symlink("../githooks", hooks)  # a repository whose hooks live in the worktree
    for path in [ws, *ws.rglob("*")]:
        os.chown(path, area.uid, area.uid, follow_symlinks=False)
    marker = area.outer / "PWNED"
    config_before = (ws / ".git" / "config").read_bytes()
    r = runner.run(area, "sh", "-c", PROTECTED.replace("{marker}", str(marker)), cwd=ws,
                   extra_env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert b"COMMITTED" in r.stdout, r.stderr  # git add and commit work inside
    git = ws / ".git"
    assert git.is_dir() and not git.is_symlink()
    assert (git / "config").read_bytes() == config_before
    assert os.readlink(hooks) == "../githooks" and os.listdir(ws / "githooks") == []
    for name in ("commondir", "config.worktree"):
        assert not (git / name).exists(), name
    for name in (".claude", ".codex", ".cursor", ".vscode", ".lockgate.toml", ".lockgate-x",
                 ".gemini", ".git-moved"):  # fmt: skip
        assert not os.path.lexists(ws / name), name
    assert b"sandbox guard" in r.stderr
    # the reviewer's next git calls on the host run nothing the command planted
    assert _git(ws, "status", uid=area.uid).returncode == 0
    assert _git(ws, "commit", "-q", "--allow-empty", "-m", "host", uid=area.uid).returncode == 0
    assert not marker.exists()
    log = _git(ws, "log", "--format=%s", uid=area.uid).stdout.decode().split()
    assert log == ["host", "inside", "first"]


def test_a_git_pointer_created_from_nothing_is_removed(runner: Runner, area: Area) -> None:
    marker = area.outer / "PWNED"
    script = (
        "git init -q --bare evil && "
        f"git -C evil config core.fsmonitor 'touch {marker}; echo' && "
        "echo 'gitdir: evil' > .git"
    )
    r = runner.run(area, "sh", "-c", script, cwd=area.ws, extra_env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert not os.path.lexists(area.ws / ".git")
    _git(area.ws, "status", uid=area.uid)
    assert not marker.exists()


# --------------------------------------------------------------------------- secrets and env


SECRETS = r"""
import os, sys, glob
home = sys.argv[1]
out = []
for rel in (".ssh/id_rsa", ".aws/credentials", ".netrc", ".git-credentials",
            ".config/lockgate/config.toml"):
    for p in (home + "/" + rel, "/proc/self/root" + home + "/" + rel):
        try:
            out.append(open(p).read())
        except OSError as e:
            out.append(f"{rel}: {e.errno}")
for p in ("/proc/self/environ", "/proc/1/environ", "/proc/1/cmdline"):
    try:
        out.append(open(p, "rb").read().decode("latin-1"))
    except OSError as e:
        out.append(f"{p}: {e.errno}")
out.append(repr(dict(os.environ)))
out.append(repr(glob.glob(home + "/**", recursive=True)))
print("\n".join(out))
"""


def test_secrets_and_keys_stay_out(runner: Runner, area: Area) -> None:
    r = runner.run(area, PY, "-c", SECRETS, str(area.home), cwd=area.ws)
    assert r.returncode == 0, r.stderr
    for marker in MARKERS:
        assert marker not in r.stdout + r.stderr, marker
    for name in (b"OPENAI_API_KEY", b"GITHUB_TOKEN", b"AWS_SECRET_ACCESS_KEY", b"AWS_ACCESS_KEY_ID",
                 b"LOCKGATE_CONFIG_DIR"):  # fmt: skip
        assert name not in r.stdout  # the probe printed its whole environment


# --------------------------------------------------------------------------- network


class Listeners:
    """Host services the command must not reach: TCP and UDP on loopback, pathname unix
    sockets beside and inside the workspace, an abstract one."""

    def __init__(self, area: Area) -> None:
        self.hits: list[str] = []
        self.socks: list[tuple[str, socket.socket]] = []
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        self.tcp_port = tcp.getsockname()[1]
        self._add("tcp", tcp)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        self.udp_port = udp.getsockname()[1]
        udp.settimeout(0.05)
        self.udp = udp
        self.paths = [str(area.vis / "host.sock"), str(area.sib / "tmp.sock"),
                      str(area.ws / "in-ws.sock"), str(area.home / "agent.sock")]  # fmt: skip
        for p in self.paths:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(p)
            os.chmod(p, 0o777)
            self._add(p, s)
        self.abstract = f"lockgate-rt-{os.getpid()}-{id(self)}"
        a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        a.bind("\0" + self.abstract)
        self._add("abstract", a)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _add(self, name: str, s: socket.socket) -> None:
        s.listen(8)
        s.settimeout(0.05)
        self.socks.append((name, s))

    def _serve(self) -> None:
        while not self.stop.is_set():
            for name, s in self.socks:
                with contextlib.suppress(OSError):
                    c, _ = s.accept()
                    self.hits.append(name)
                    c.close()
            with contextlib.suppress(OSError):
                self.udp.recv(100)
                self.hits.append("udp")

    def close(self) -> list[str]:
        time.sleep(0.2)
        self.stop.set()
        self.thread.join()
        for _, s in self.socks:
            s.close()
        self.udp.close()
        return self.hits


NETWORK = r"""
import socket, sys
tcp, udp, abstract = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
paths = sys.argv[4:]
def attempt(name, fn):
    try:
        fn(); print(name, "REACHED")
    except OSError as e:
        print(name, "denied", e.errno)
def connect(fam, typ, addr, proto=0):
    s = socket.socket(fam, typ, proto); s.settimeout(1); s.connect(addr)
attempt("tcp", lambda: connect(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", tcp)))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", udp)))
attempt("tcp6", lambda: connect(socket.AF_INET6, socket.SOCK_STREAM, ("::1", tcp)))
attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1))
attempt("packet", lambda: socket.socket(17, socket.SOCK_RAW, 0))
attempt("netlink", lambda: socket.socket(16, socket.SOCK_RAW, 0))
attempt("vsock", lambda: socket.socket(40, socket.SOCK_STREAM, 0))
attempt("abstract", lambda: connect(socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract))
for i, p in enumerate(paths):
    attempt(f"unix{i}", lambda: connect(socket.AF_UNIX, socket.SOCK_STREAM, p))
for p in ("/run/dbus/system_bus_socket", "/var/run/docker.sock", "/run/systemd/private"):
    attempt(p, lambda: connect(socket.AF_UNIX, socket.SOCK_STREAM, p))
"""


def test_network_and_host_sockets_unreachable(runner: Runner, area: Area) -> None:
    listeners = Listeners(area)
    try:
        r = runner.run(area, PY, "-c", NETWORK, str(listeners.tcp_port), str(listeners.udp_port),
                       listeners.abstract, *listeners.paths, cwd=area.ws)  # fmt: skip
    finally:
        hits = listeners.close()
    assert r.returncode == 0, r.stderr
    assert hits == []
    assert b"REACHED" not in r.stdout, r.stdout.decode()
    assert len(r.stdout.splitlines()) == 16


def test_proc_net_unix_parsing() -> None:
    table = (
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000: 00000002 00000000 00010000 0001 01 510281 /run/a.sock\n"
        "0000: 00000002 00000000 00010000 0001 01 510282 /var/lib/with space.sock\n"
        "0000: 00000003 00000000 00000000 0005 03 500534\n"
        "0000: 00000002 00000000 00010000 0001 01 510283 @abstract\n"
        "0000: 00000002 00000000 00010000 0001 01 510284 relative.sock\n"
    )
    assert bound_paths(table) == ["/run/a.sock", "/var/lib/with space.sock"]


# --------------------------------------------------------------------------- processes


PROCESSES = r"""
import ctypes, os, signal, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, fn):
    try:
        fn(); print(name, "DONE")
    except OSError as e:
        print(name, "denied", e.errno)
def call(name, *args):
    r = libc.syscall(*args)
    print(name, "DONE" if r >= 0 else f"denied {ctypes.get_errno()}")
attempt("kill", lambda: os.kill(pid, signal.SIGKILL))
attempt("killpg", lambda: os.killpg(pid, signal.SIGKILL))
call("ptrace", 101, 16, pid, 0, 0)
call("pvr", 310, pid, 0, 0, 0, 0, 0)
attempt("pidfd", lambda: os.pidfd_open(pid))
attempt("procentry", lambda: os.stat(f"/proc/{pid}"))
attempt("kill_all", lambda: os.kill(-1, 0))
print("visible", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
"""


def test_outside_processes_untouchable(runner: Runner, area: Area) -> None:
    prefix = NOBODY if runner.user == "nobody" else []
    host = subprocess.Popen([*prefix, "sleep", "60"])
    try:
        r = runner.run(area, PY, "-c", PROCESSES, str(host.pid), cwd=area.ws)
        assert host.poll() is None
    finally:
        host.kill()
        host.wait()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    by_name = dict(line.split(" ", 1) for line in lines)
    for name in ("kill", "killpg", "ptrace", "pvr", "pidfd", "procentry"):
        assert by_name[name].startswith("denied"), (name, by_name[name])
    visible = json.loads(by_name["visible"])  # the pids in the command's /proc
    assert 0 < len(visible) < 10


# --------------------------------------------------------------------------- syscalls


C_PROBE = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
static void r(const char *n, long v){ printf("%s %s %d\n", n, v < 0 ? "denied" : "DONE", v < 0 ? errno : 0); fflush(stdout); }
int main(int argc, char **argv){
  const char *w = argc > 1 ? argv[1] : "all";
  if(!strcmp(w, "int80")){ long ret; __asm__ volatile("int $0x80":"=a"(ret):"a"(20L)); printf("int80 %ld\n", ret); return 0; }
  if(!strcmp(w, "x32")){ printf("x32 %ld\n", syscall(0x40000000 | 39)); return 0; }
  static char buf[256]; char c = 'X';
  r("tiocsti", syscall(SYS_ioctl, 0, 0x5412UL, &c));
  r("tiocsti_high", syscall(SYS_ioctl, 0, 0xffffffff00005412UL, &c));
  r("tioclinux_high", syscall(SYS_ioctl, 0, 0x100000000541cUL, buf));
  r("io_uring_setup", syscall(425, 1, buf));
  r("userfaultfd", syscall(SYS_userfaultfd, 0));
  r("bpf", syscall(SYS_bpf, 0, buf, 48));
  r("perf_event_open", syscall(SYS_perf_event_open, buf, 0, -1, -1, 0));
  r("keyctl", syscall(SYS_keyctl, 0, 0));
  r("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -2));
  r("unshare", syscall(SYS_unshare, 0x10000000));
  r("setns", syscall(SYS_setns, 0, 0));
  long cl[11] = {0}; cl[0] = 0x10000000; cl[4] = 17;
  r("clone3_newuser", syscall(435, cl, 88));
  long p = syscall(SYS_clone, 0x10000000UL | 17, 0, 0, 0, 0); if(p == 0) _exit(0);
  r("clone_newuser", p);
  p = syscall(SYS_clone, 0x100000000UL | 0x40000000UL | 17, 0, 0, 0, 0); if(p == 0) _exit(0);
  r("clone_newnet_high", p);
  r("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
  r("umount", syscall(SYS_umount2, "/proc", 2));
  r("personality_exec", syscall(SYS_personality, 0x400000));
  r("personality_high", syscall(SYS_personality, 0x100040000UL));
  r("open_by_handle_at", syscall(SYS_open_by_handle_at, -100, buf, 0));
  r("fsopen", syscall(430, "tmpfs", 0));
  r("open_tree", syscall(428, -100, "/", 1));
  r("chroot", syscall(SYS_chroot, "/tmp"));
  r("pidfd_getfd", syscall(438, 0, 0, 0));
  r("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
  r("init_module", syscall(SYS_init_module, 0, 0, ""));
  r("iopl", syscall(SYS_iopl, 3));
  r("syslog", syscall(SYS_syslog, 3, buf, 100));
  r("inet", syscall(SYS_socket, 2, 1, 0));
  r("inet_high", syscall(SYS_socket, 0x100000002UL, 2, 0));
  return 0;
}
"""


def test_syscall_bypasses(runner: Runner, area: Area, c_probe: Path | None) -> None:
    if c_probe is None:
        pytest.skip("no C compiler to build the syscall probe")
    shutil.copy(c_probe, area.ws / "probe")
    os.chown(area.ws / "probe", area.uid, area.uid)
    r = runner.run(area, "./probe", cwd=area.ws)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 29
    assert [line for line in lines if " denied " not in line] == []
    for foreign in ("int80", "x32"):  # a foreign ABI kills the process: SIGSYS
        k = runner.run(area, "./probe", foreign, cwd=area.ws)
        assert k.returncode == 128 + signal.SIGSYS and k.stdout == b"", (foreign, k)


# --------------------------------------------------------------------------- terminal


TTY = r"""
import fcntl, os, termios
for fd in (0, 1, 2):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"X"); print("sti", fd, "INJECTED")
    except OSError as e:
        print("sti", fd, "denied", e.errno)
try:
    os.open("/dev/tty", os.O_RDWR); print("devtty OPENED")
except OSError as e:
    print("devtty denied", e.errno)
"""


def test_terminal_injection_with_a_real_tty(runner: Runner, area: Area) -> None:
    if shutil.which("script") is None:
        pytest.skip("needs script(1) for a real terminal")
    env = {**runner.env, **area.env}
    cmd = [*runner.prefix, "sandbox", "run", "--workspace", str(area.ws), "--", PY, "-c", TTY]
    line = " ".join(_quote(a) for a in cmd)
    for stdin_flag in ("", " --stdin"):
        full = line.replace(" --workspace", stdin_flag + " --workspace", 1)
        r = subprocess.run(["script", "-qec", full + " </dev/tty", "/dev/null"],
                           stdin=subprocess.DEVNULL, capture_output=True, env=env,
                           timeout=60)  # fmt: skip
        out = r.stdout.decode(errors="replace")
        assert "INJECTED" not in out and "OPENED" not in out, out
        assert out.count("denied") == 4, out


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


# --------------------------------------------------------------------------- resources


def test_timeout_kills_setsid_and_double_forked(runner: Runner, area: Area) -> None:
    tag = f"lockgate-rt-{os.getpid()}-{area.root.name}"
    late = area.ws / "late"
    script = (f"setsid sh -c '(sleep 1.5; echo late > {late}) &' & "
              f"(setsid {PY} -c 'import time; time.sleep(60)' {tag} &) ; sleep 30")  # fmt: skip
    t0 = time.monotonic()
    r = runner.run(area, "sh", "-c", script, opts=("--timeout", "0.5"))
    assert r.returncode == 124 and time.monotonic() - t0 < 10
    assert len(r.stderr.decode().strip().splitlines()) == 1
    time.sleep(1.5)
    assert not late.exists()
    left = subprocess.run(["pgrep", "-f", tag], capture_output=True)
    assert left.stdout == b""


def test_fork_bomb_and_flood_stay_bounded(runner: Runner, area: Area) -> None:
    # Every process of the bomb carries the tag as its $0; none may outlive the run. (Counting
    # all host processes would also count other tests running in parallel.)
    tag = f"lockgate-bomb-{os.getpid()}-{time.monotonic_ns()}"
    r = runner.run(area, "bash", "-c", "f(){ f | f & }; f; sleep 1", tag, opts=("--timeout", "15"))
    assert r.returncode in (0, 124)
    deadline = time.monotonic() + 5
    while True:
        left = subprocess.run(["pgrep", "-f", tag], capture_output=True)
        if left.stdout == b"" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left.stdout == b""
    flood = runner.run(area, "sh", "-c", "yes | head -c 30000000; yes err | head -c 3000000 >&2",
                       opts=("--max-output", "4096"))  # fmt: skip
    assert flood.returncode == 0
    assert len(flood.stdout) == 4096 and flood.stdout.startswith(b"y\ny\n")
    assert b"30000000" in flood.stderr and len(flood.stderr) < 4096 + 200


def test_fd_and_file_size_limits(runner: Runner, area: Area) -> None:
    script = (
        "import os\n"
        "n = 0\n"
        "try:\n"
        "    while True: os.open('/dev/null', os.O_RDONLY); n += 1\n"
        "except OSError as e: print('fds', n, e.errno)\n"
    )
    r = runner.run(area, PY, "-c", script)
    fds, n, err = r.stdout.split()
    assert fds == b"fds" and 100 < int(n) <= 4096 and int(err) == 24


# --------------------------------------------------------------------------- exit contract


def test_exit_status_contract_and_byte_exact_streams(runner: Runner, area: Area) -> None:
    assert runner.run(area, "sh", "-c", "exit 7").returncode == 7
    assert runner.run(area, "sh", "-c", "kill -TERM $$").returncode == 128 + 15
    assert runner.run(area, "sh", "-c", "kill -KILL $$").returncode == 128 + 9
    assert runner.run(area, "/no/such/program").returncode == 127
    payload = bytes(range(256)) * 64 + b"\xff\xfe\x00\xc3(invalid utf-8\r\n"
    emit = "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d); " \
           "sys.stderr.buffer.write(d[::-1])"  # fmt: skip
    r = runner.run(area, PY, "-c", emit, opts=("--stdin",), stdin=payload)
    assert (r.returncode, r.stdout, r.stderr) == (0, payload, payload[::-1])
    big = os.urandom(1 << 20) + os.urandom(1 << 10)
    r = runner.run(area, PY, "-c", emit, opts=("--stdin", "--max-output", str(8 << 20)),
                   stdin=big)  # fmt: skip
    assert r.stdout == big and r.stderr == big[::-1]
    no_stdin = runner.run(area, "sh", "-c", "cat; echo end", stdin=b"must not arrive")
    assert no_stdin.stdout == b"end\n"


def test_refused_places(runner: Runner, area: Area) -> None:
    home = str(area.home)
    real_home = os.path.expanduser("~" + ("root" if runner.user == "root" else "nobody"))
    cases = [
        ("--workspace", "/"),
        ("--workspace", home),
        ("--workspace", str(area.outer)),  # an ancestor of $HOME
        ("--workspace", str(area.ws / "missing")),
        ("--workspace", str(area.ws), "--writable", "/"),
        ("--workspace", str(area.ws), "--writable", home),
        ("--workspace", str(area.home / ".ssh")),  # a hidden secret store
        ("--workspace", "/dev"),
        ("--workspace", str(area.ws), "--writable", "/sys/fs/cgroup"),
        ("--workspace", str(area.ws), "--writable", str(area.home / ".config" / "lockgate")),
        ("--workspace", str(area.ws), "--timeout", "nan"),
        ("--workspace", str(area.ws), "--timeout", "0"),
    ]
    if os.path.isdir(real_home):
        cases.append(("--workspace", real_home))  # the real home, whatever $HOME says
    marker = area.outer / "ran"
    for case in cases:
        r = runner.cli("sandbox", "run", *case, "--", "sh", "-c", f"touch {marker}",
                       env=area.env)  # fmt: skip
        assert r.returncode == 125, (case, r)
        assert r.stdout == b"" and len(r.stderr.decode().splitlines()) == 1, (case, r.stderr)
        assert not marker.exists()


def test_cwd_outside_the_workspace_is_only_a_cwd(runner: Runner, area: Area) -> None:
    before = _snapshot(area.vis)
    r = runner.run(area, "sh", "-c", "pwd; echo x > rel.txt", cwd=area.vis)
    assert r.returncode == 0 and r.stdout.decode().strip() == str(area.ws)
    assert _snapshot(area.vis) == before
    assert (area.ws / "rel.txt").exists()


def test_a_writable_parent_cannot_move_the_workspace_away(runner: Runner, area: Area) -> None:
    ws = area.ws
    assert _git(ws, "init", "-q", uid=area.uid).returncode == 0
    ident = os.stat(ws / ".git").st_ino, os.stat(ws).st_ino
    script = (
        "cd .. && mv ws ws-old; mv ws/.git git-old; "
        "mkdir -p ws2/.git/hooks && echo pwn > ws2/.git/hooks/pre-commit && mv ws2 ws; "
        "echo fine > beside.txt"
    )
    r = runner.run(area, "sh", "-c", script, opts=("--writable", str(area.root)), cwd=ws)
    assert r.returncode == 0, r.stderr
    assert (area.root / "beside.txt").read_text() == "fine\n"  # the parent is writable
    assert (os.stat(ws / ".git").st_ino, os.stat(ws).st_ino) == ident
    assert not (area.root / "ws-old").exists()  # (git-old: at most a copy, via EXDEV)
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()


def test_a_repository_made_inside_keeps_only_safe_config(runner: Runner, area: Area) -> None:
    marker = area.outer / "PWNED"
    script = (
        "git init -q && git config pager.log 'touch {m}; less' && "
        "git config interactive.diffFilter 'touch {m}' && "
        "git config remote.origin.uploadpack 'touch {m}' && "
        "git config remote.origin.url https://example.invalid/x.git && "
        "printf '[core] fsmonitor = \"touch {m}\"\\n[alias]\\n\\tst = !touch {m}\\n' >> .git/config && "
        ": > a && git add a && git -c user.name=t -c user.email=t@t commit -qm inside && echo ok"
    ).replace("{m}", str(marker))
    r = runner.run(area, "sh", "-c", script, cwd=area.ws, extra_env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout == b"ok\n", r.stderr
    config = (area.ws / ".git" / "config").read_text()
    for needle in ("pager", "diffFilter", "uploadpack", "fsmonitor", "alias", str(marker)):
        assert needle not in config, (needle, config)
    assert "url = https://example.invalid/x.git" in config
    assert _git(area.ws, "log", "--format=%s", uid=area.uid).stdout == b"inside\n"
    _git(area.ws, "status", uid=area.uid)
    assert not marker.exists()


def test_device_nodes_outside_the_sandbox_dev_are_dead(runner: Runner, area: Area) -> None:
    """A device node in the workspace or elsewhere on the host (a chroot, a container's tree)
    opens to nothing: only the sandbox's own /dev nodes work."""
    nodes = [area.ws / "memlike", area.vis / "memlike"]
    for node in nodes:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 5))  # /dev/zero's numbers
    script = (
        "import sys\n"
        "for p in sys.argv[1:] + ['/dev/zero']:\n"
        "    try:\n"
        "        open(p, 'rb').read(1); print(p, 'OPENED')\n"
        "    except OSError as e:\n"
        "        print(p, 'denied', e.errno)\n"
    )
    r = runner.run(area, PY, "-c", script, *map(str, nodes))
    lines = r.stdout.decode().splitlines()
    assert [line.split()[1] for line in lines] == ["denied", "denied", "OPENED"], lines


def test_linked_worktrees_cannot_be_redirected(runner: Runner, area: Area) -> None:
    ws, outside = area.ws, area.outer / "linked"
    assert _git(ws, "init", "-q", uid=area.uid).returncode == 0
    assert _git(ws, "commit", "-q", "--allow-empty", "-m", "first", uid=area.uid).returncode == 0
    for path in (area.outer,):
        os.chown(path, area.uid, area.uid)
    assert _git(ws, "worktree", "add", "-q", str(outside), uid=area.uid).returncode == 0
    linked = ws / ".git" / "worktrees" / "linked"
    script = (
        "echo ../../evil > .git/worktrees/linked/commondir; "
        "echo '[core]' > .git/worktrees/linked/config.worktree; "
        "git worktree add -q inner && echo ../../evil > .git/worktrees/inner/commondir; exit 0"
    )
    r = runner.run(area, "sh", "-c", script, cwd=ws, extra_env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert (linked / "commondir").read_text().strip() == "../.."
    assert not (linked / "config.worktree").exists()
    assert not (ws / ".git" / "worktrees" / "inner" / "commondir").exists()


def test_a_git_dir_named_by_a_git_file_inside_the_workspace(runner: Runner, area: Area) -> None:
    ws = area.ws
    assert (
        _git(ws, "init", "-q", f"--separate-git-dir={ws / '.repo'}", uid=area.uid).returncode == 0
    )
    repo = ws / ".repo"
    config = (repo / "config").read_bytes()
    script = (
        "echo pwn > .repo/hooks/pre-commit; echo '[core]' >> .repo/config; "
        "echo ../elsewhere > .repo/commondir; "
        "mv .repo .repo-old; mkdir -p .repo/hooks && echo pwn > .repo/hooks/post-checkout; exit 0"
    )
    r = runner.run(area, "sh", "-c", script, cwd=ws)
    assert r.returncode == 0, r.stderr
    assert (repo / "config").read_bytes() == config
    assert (
        sorted(p.name for p in (repo / "hooks").iterdir() if not p.name.endswith(".sample")) == []
    )
    assert not (repo / "commondir").exists() and not (ws / ".repo-old").exists()


def test_a_git_symlink_target_cannot_be_swapped(runner: Runner, area: Area) -> None:
    """`.git -> repos/main.git` and `.claude -> shared/claude`: neither the targets nor the
    directories leading to them can be renamed and replaced by ones the command prepared."""
    ws = area.ws
    assert _git(ws, "init", "-q", uid=area.uid).returncode == 0
    (ws / "repos").mkdir()
    (ws / "shared" / "claude").mkdir(parents=True)
    os.rename(ws / ".git", ws / "repos" / "main.git")
    os.symlink("repos/main.git", ws / ".git")
    os.symlink("shared/claude", ws / ".claude")
    for path in [ws, *ws.rglob("*")]:
        os.chown(path, area.uid, area.uid, follow_symlinks=False)
    idents = [os.stat(ws / p).st_ino for p in ("repos", "repos/main.git", "shared/claude")]
    script = (
        "mv repos r2; mv repos/main.git repos/x; mv shared s2; "
        "mkdir -p repos/main.git/hooks shared/claude; "
        "echo pwn > repos/main.git/hooks/pre-commit; echo pwn > shared/claude/settings.json; "
        "git -c user.name=t -c user.email=t@t commit -q --allow-empty -m inside && echo COMMITTED"
    )
    r = runner.run(area, "sh", "-c", script, cwd=ws, extra_env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and b"COMMITTED" in r.stdout, r.stderr
    assert [os.stat(ws / p).st_ino for p in ("repos", "repos/main.git", "shared/claude")] == idents
    assert sorted(os.listdir(ws)) == [".claude", ".git", "repos", "shared"]
    assert not (ws / "repos" / "main.git" / "hooks" / "pre-commit").exists()
    assert os.listdir(ws / "shared" / "claude") == []


def test_links_and_fifos_planted_in_git_are_removed(runner: Runner, area: Area) -> None:
    """`logs/HEAD -> ~/.bashrc` would have the reviewer's next commit append a reflog line
    (with branch names the command chose) to their shell's startup file."""
    ws, bashrc = area.ws, area.home / ".bashrc"
    assert _git(ws, "init", "-q", uid=area.uid).returncode == 0
    assert _git(ws, "commit", "-q", "--allow-empty", "-m", "first", uid=area.uid).returncode == 0
    before = bashrc.read_bytes()
    # a fan-out name git has not used yet (the commit's own object may already sit in objects/ab)
    fanout = next(n for n in ("ab", "cd", "ef", "12") if not (ws / ".git" / "objects" / n).exists())
    script = (
        f"rm -f .git/logs/HEAD && ln -s {bashrc} .git/logs/HEAD && "
        f"ln -s {bashrc} .git/objects/{fanout} && mkfifo .git/ORIG_HEAD && echo planted"
    )
    r = runner.run(area, "sh", "-c", script, cwd=ws)
    assert r.stdout == b"planted\n", r.stderr
    for rel in ("logs/HEAD", f"objects/{fanout}", "ORIG_HEAD"):
        assert not os.path.lexists(ws / ".git" / rel), rel
    assert _git(ws, "commit", "-q", "--allow-empty", "-m", "host", uid=area.uid).returncode == 0
    assert bashrc.read_bytes() == before
