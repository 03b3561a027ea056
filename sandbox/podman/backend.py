"""The podman backend: one long-lived container per Sandbox, started on the first command and
removed on close, holding the same policy as the Linux backend with podman's own layers.

The container: `--read-only` root, a tmpfs /tmp, the mounts of mounts.py (workspace read-write,
protected paths read-only, nothing of the home), `--cap-drop ALL`, `no-new-privileges`, lockgate's
seccomp deny-list as a podman profile (seccomp_profile.py), pids and memory limits,
`--network none` (proxy mode: the proxy's unix socket mounted in and bridged to 127.0.0.1:PORT
by init, with sandbox/linux/bridge.py), `--userns=keep-id` when podman is rootless.

Commands start one of two ways, both measured by bench/podman_spawn.py:
  init  (default; python3 in the image): PID 1 is init.py, the console talks to it over a unix
        socket in a mounted control directory and passes the command's pipes as descriptors —
        a fork inside the container, milliseconds.
  exec  (no python3 in the image, or LOCKGATE_PODMAN_MODE=exec): `podman exec` per command, a
        podman process and a runtime exec each time — a few hundred milliseconds.
After every command everything it left running is killed (init: kill(-1) as PID 1; exec: a
`kill -KILL -1` exec), so nothing of one command outlives it, as with the Linux backend.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sandbox.output import HeadTail, drain_ready
from sandbox.podman import seccomp_profile
from sandbox.podman.cli import Podman, podman_for
from sandbox.podman.image import HOST_RO_LABEL
from sandbox.podman.mounts import CTL, PROXY_IN, Bind, Layout, layout
from sandbox.podman.remote import RemoteWorkspace, save_patch
from sandbox.podman.support import DEFAULT_IMAGE, PodmanSupport, probe_podman
from sandbox.policy import Completed, SandboxError, SandboxPolicy, SandboxUnavailable
from sandbox.workspace import Prepared

START_TIMEOUT_S = 60.0
EOF_GRACE_S = 2.0
# after each command (exec mode): what it left running is killed, /tmp and /dev/shm emptied
KILL_ALL = [
    "/bin/sh",
    "-c",
    "kill -KILL -1 2>/dev/null; find /tmp /dev/shm -mindepth 1 -delete 2>/dev/null; exit 0",
]
_ROOT_HELPERS = (
    Path(__file__).with_name("init.py"),
    Path(__file__).parent.parent / "linux" / "bridge.py",
)


class PodmanBackend:
    def __init__(self, policy: SandboxPolicy, podman: Podman | None = None) -> None:
        self.policy = policy
        spec = policy.container
        self.podman = podman or podman_for(spec.connection)
        if self.podman.remote and policy.network == "proxy":
            raise SandboxUnavailable(
                "podman backend: network allow needs the console's proxy socket in the "
                "container, which a remote podman connection cannot mount; use --network off"
            )
        self._remote: RemoteWorkspace | None = None
        self._volume = ""
        self.image = str(spec.image or DEFAULT_IMAGE)
        self.rootfs = str(spec.rootfs) if spec.rootfs else None
        self.mode_wanted = os.environ.get("LOCKGATE_PODMAN_MODE", "init")
        self._lock = threading.Lock()
        self._cid: str | None = None
        self._name = ""
        self._key: tuple[object, ...] | None = None
        self._tmp: str | None = None
        self._conn: socket.socket | None = None
        self.mode = ""
        self._rootless = False
        self._no_cgroup_limits = False
        self._host_ro: tuple[str, ...] | None = None
        self.starts = 0  # containers started (a changed protected set starts a new one)

    # ------------------------------------------------------------------ lifecycle

    def support(self) -> PodmanSupport:
        s = probe_podman(self.podman, None if self.rootfs else self.image, self.rootfs)
        self._rootless = s.rootless
        self._no_cgroup_limits = s.rootless and s.cgroup_version == "v1"
        return s

    def prewarm(self, prepared: Prepared) -> None:
        """Nothing ahead of time: the container starts with the first approved command."""

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        init_ended = False
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_WR)  # init kills everything and exits …
                self._conn.settimeout(5)
                init_ended = self._conn.recv(1) == b""  # … and its end closes when it has
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None
        if self._cid is not None:
            rm = self.podman.argv("rm", "-f", "-t", "0", self._cid)
            if init_ended:  # nothing runs in it any more: the removal need not be waited for
                threading.Thread(target=_quiet, args=(rm,), daemon=True).start()
            else:
                _quiet(rm)
            self._cid = None
        if self._volume:
            with contextlib.suppress(SandboxError, SandboxUnavailable):
                self.podman.call("volume", "rm", "-f", self._volume, check=False, timeout=60)
            self._volume = ""
        self._remote = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self.podman = dataclasses.replace(self.podman, cwd=None)
        self._key = None
        self.mode = ""

    def _host_dirs(self) -> tuple[str, ...]:
        """Directories the image asks to have mounted read-only from the host (the default
        image built by `lockgate sandbox image build` carries /usr this way)."""
        if self._host_ro is None:
            label = "" if self.rootfs else self.podman.image_label(self.image, HOST_RO_LABEL)
            dirs = [
                d
                for d in label.split(":")
                if d.startswith("/") and (self.podman.remote or os.path.isdir(d))
            ]
            self._host_ro = tuple(dirs)
        return self._host_ro

    def _layout(self, prepared: Prepared, proxy_socket: Path | None) -> Layout:
        if self.podman.remote:  # nothing local is mounted: the workspace is a synced volume
            # (the image's host directories are the remote host's own)
            binds = tuple(Bind(d, d, True) for d in self._host_dirs())
            return Layout(binds, (), (), ("remote",))
        return layout(self.policy, prepared, host_ro=self._host_dirs(), proxy_socket=proxy_socket)

    def _start(self, lay: Layout, proxy_socket: Path | None) -> None:
        p = self.policy
        tmp = tempfile.mkdtemp(prefix="lockgate-podman-")
        self._tmp = tmp
        self.podman = dataclasses.replace(self.podman, cwd=tmp)  # (see Podman.cwd)
        code, ctl = os.path.join(tmp, "code"), os.path.join(tmp, "ctl")
        os.mkdir(code, 0o755)
        os.mkdir(ctl, 0o700)
        for helper in _ROOT_HELPERS:
            shutil.copyfile(helper, os.path.join(code, helper.name))
        proxy = p.network == "proxy" and proxy_socket is not None
        profile = os.path.join(tmp, "seccomp.json")
        with open(profile, "w", encoding="utf-8") as f:
            f.write(seccomp_profile.profile_json(allow_inet_stream=proxy))
        self._name = "lockgate-" + secrets.token_hex(6)
        memory = getattr(p, "memory", None)
        args = [
            "run", "-d", "--rm", "--name", self._name, "--label", "lockgate=sandbox",
            "--read-only", "--read-only-tmpfs=false",
            "--tmpfs", f"/tmp:rw,nosuid,nodev,size={p.tmp_size},mode=1777",
            "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
            "--security-opt", f"seccomp={profile}",
            "--network", "none",
            "--hostname", "lockgate",
            "--pids-limit", str(p.max_processes + 1),  # + init (the bridge is a thread of it)
            "--ulimit", f"nofile={p.max_open_files}:{p.max_open_files}",
            # a cap of its own where podman ignores --pids-limit (rootless on cgroup v1): the
            # count is kept in the container's user namespace (root's is exempt: rootful
            # relies on the pids cgroup)
            "--ulimit", f"nproc={p.max_processes + 1}:{p.max_processes + 1}",
            "--ulimit", f"fsize={p.max_file_size}:{p.max_file_size}",
            "--workdir", "/",
            "--mount", f"type=bind,src={code},dst={CTL}/code,ro=true",
            "--mount", f"type=bind,src={ctl},dst={CTL}/ctl",
        ]  # fmt: skip
        if memory:
            args += ["--memory", str(memory), "--memory-swap", str(memory)]
            if self._no_cgroup_limits:  # no memory cgroup: RLIMIT_DATA per process instead
                args += ["--ulimit", f"data={memory}:{memory}"]
        if p.cpu_seconds:
            args += ["--ulimit", f"cpu={p.cpu_seconds}:{p.cpu_seconds}"]
        if self._rootless:
            args += ["--userns", "keep-id"]
        args += lay.args()
        if self.podman.remote:
            return self._start_remote(args)
        init = f"python3 -I -S {CTL}/code/init.py {CTL}/ctl"
        if proxy:
            init += f" {p.proxy_port} {PROXY_IN}"
        script = (
            f"if [ {self.mode_wanted} = init ] && command -v python3 >/dev/null 2>&1; "
            f"then exec {init}; fi; : > {CTL}/ctl/exec-mode; "
            "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"
        )
        args += ["--rootfs", f"{self.rootfs}:O"] if self.rootfs else [self.image]
        args += ["/bin/sh", "-c", script]
        r = self.podman.call(*args, timeout=START_TIMEOUT_S)
        self._cid = r.stdout.decode().strip().splitlines()[-1] if r.stdout.strip() else self._name
        self.starts += 1
        self._wait_ready(ctl)

    def _start_remote(self, args: list[str]) -> None:
        """On another podman host: no local mounts (the control directory and the seccomp
        profile stay client-side files podman reads), the workspace a fresh volume at its own
        path, commands by `podman exec`."""
        drop = {f"type=bind,src={self._tmp}/code,dst={CTL}/code,ro=true",
                f"type=bind,src={self._tmp}/ctl,dst={CTL}/ctl"}  # fmt: skip
        kept: list[str] = []
        i = 0
        while i < len(args):
            if args[i] == "--mount" and args[i + 1] in drop:
                i += 2
                continue
            kept.append(args[i])
            i += 1
        self._volume = "lockgate-ws-" + secrets.token_hex(6)
        self.podman.call("volume", "create", self._volume, timeout=60)
        ws = str(self.policy.workspace)
        kept += ["--mount", f"type=volume,src={self._volume},dst={ws}"]
        kept += [self.image, "/bin/sh", "-c",
                 "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"]  # fmt: skip
        r = self.podman.call(*kept, timeout=START_TIMEOUT_S)
        self._cid = r.stdout.decode().strip().splitlines()[-1] if r.stdout.strip() else self._name
        self.starts += 1
        self.mode = "exec"
        self._remote = RemoteWorkspace(self.podman, ws, self._cid)

    def _wait_ready(self, ctl: str) -> None:
        sock_path = os.path.join(ctl, "init.sock")
        marker = os.path.join(ctl, "exec-mode")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if os.path.exists(sock_path):
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
                try:
                    conn.connect(sock_path)
                except OSError:
                    conn.close()
                else:
                    self._conn = conn
                    self.mode = "init"
                    return
            if os.path.exists(marker):
                self.mode = "exec"
                return
            time.sleep(0.005)
        raise SandboxError("podman backend: the container did not come up within 60 s")

    # ------------------------------------------------------------------ one command

    def run(
        self,
        argv: list[str],
        *,
        cwd: str,
        env: dict[str, str],
        timeout: float | None,
        stdin: bytes | None,
        max_output: int,
        on_output: Callable[[str, bytes], None] | None,
        cancel: threading.Event | None,
        proxy_socket: Path | None,
        prepared: Prepared,
        script: str | None = None,
    ) -> Completed:
        if self.policy.network == "proxy" and proxy_socket is None:
            raise SandboxError("proxy network mode needs a proxy socket")
        if self.policy.network == "proxy" and not os.path.exists(str(proxy_socket)):
            raise SandboxError(f"proxy socket {proxy_socket} does not exist")
        with self._lock:
            lay = self._layout(prepared, proxy_socket)
            if self._cid is None or lay.key != self._key:
                self._stop()
                try:
                    self._start(lay, proxy_socket)
                except BaseException:
                    self._stop()
                    raise
                self._key = lay.key
            job = _Job(argv, cwd, env, timeout, stdin, max_output, on_output, cancel, script)
            if self._remote is not None:
                return self._run_remote(job)
            if self.mode == "init":
                return self._run_init(job)
            return self._run_exec(job)

    def _run_remote(self, job: _Job) -> Completed:
        """Sync the workspace there, run, and bring the changes back as a patch to review:
        the local workspace is not written."""
        remote = self._remote
        assert remote is not None
        clock = remote.push()
        done = self._run_exec(job)
        changes = remote.pull(clock)
        notes: list[str] = []
        if changes.files:
            where = ""
            if changes.patch:
                path = save_patch(changes.patch)
                ws = self.policy.workspace
                where = (
                    f"; review: lockgate patch check -w {ws} {path}; "
                    f"apply: lockgate patch apply -w {ws} {path}"
                )
            notes.append(
                f"remote: the command changed {len(changes.files)} path(s) in the container; "
                f"nothing was written to the workspace{where}"
            )
            if changes.unpatchable:
                shown = ", ".join(changes.unpatchable[:10])
                more = (
                    f" and {len(changes.unpatchable) - 10} more"
                    if len(changes.unpatchable) > 10
                    else ""
                )
                notes.append(f"remote: not in the patch: {shown}{more}")
        return dataclasses.replace(done, guard=done.guard + tuple(notes))

    def _run_init(self, job: _Job) -> Completed:
        conn = self._conn
        assert conn is not None
        script, env = job.script, job.env
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe()
        fds = [in_r, out_w, err_w]
        if script is not None:
            mfd = os.memfd_create("lockgate-script", os.MFD_CLOEXEC)
            os.write(mfd, script.encode())
            os.lseek(mfd, 0, os.SEEK_SET)
            fds.append(mfd)
        msg = json.dumps({"op": "run", "argv": job.argv, "cwd": job.cwd, "env": env}).encode()
        try:
            conn.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        except OSError as e:
            for fd in (*fds, out_r, err_r, in_w):
                os.close(fd)
            self._stop()
            raise SandboxError(f"podman backend: the container's init is gone ({e})") from e
        for fd in fds:
            os.close(fd)
        return _drain(
            [out_r, err_r], in_w, job, wait=lambda sel: _InitWaiter(conn, sel, self._stop)
        )

    def _run_exec(self, job: _Job) -> Completed:
        assert self._cid is not None
        argv, env, script = job.argv, job.env, job.script
        args = ["exec", "-i", "--workdir", job.cwd]
        for name in env:
            args += ["-e", name]  # the value comes from podman's environment, below
        if script is not None:
            # the script as descriptor 3, from a file in the control directory (remote: in
            # the container's /tmp, written by an exec first)
            assert self._tmp is not None
            name = "script-" + secrets.token_hex(8)
            if self._remote is not None:
                inner = f"/tmp/.lockgate-{name}"
                self.podman.call("exec", "-i", self._cid, "/bin/sh", "-c",
                                 'umask 077; cat > "$0"', inner, input=script.encode())  # fmt: skip
            else:
                with open(os.path.join(self._tmp, "ctl", name), "w", encoding="utf-8") as f:
                    f.write(script)
                inner = f"{CTL}/ctl/{name}"
            argv = ["/bin/sh", "-c", 'exec 3<"$0"; rm -f "$0"; exec "$@"', inner, *argv]
        args += [self._cid, *argv]
        podman_env = {k: v for k, v in os.environ.items() if k not in env}
        podman_env.update(env)
        for k in ("PATH", "HOME", "XDG_RUNTIME_DIR"):  # podman itself needs its own
            if k in os.environ:
                podman_env.setdefault(k, os.environ[k])
        proc = subprocess.Popen(
            self.podman.argv(*args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=podman_env,
            cwd=self.podman.cwd,
        )
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        in_w = os.dup(proc.stdin.fileno())
        proc.stdin.close()  # the one writer left is in_w: closing it is podman's EOF
        result = _drain(
            [proc.stdout.fileno(), proc.stderr.fileno()],
            in_w,
            job,
            wait=lambda sel: _ExecWaiter(proc, self),
            close_pipes=False,
        )
        for stream in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        self._kill_all_exec()
        return result

    def _kill_all_exec(self) -> None:
        if self._cid is not None:
            with contextlib.suppress(SandboxError, SandboxUnavailable):
                self.podman.call("exec", self._cid, *KILL_ALL, check=False, timeout=60)


@dataclasses.dataclass(frozen=True)
class _Job:
    """One command as `run` was asked for it, whichever way it then runs."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    timeout: float | None
    stdin: bytes | None
    max_output: int
    on_output: Callable[[str, bytes], None] | None
    cancel: threading.Event | None
    script: str | None


def _quiet(argv: list[str]) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)


class _InitWaiter:
    """The init's messages on the control socket: "started", then "exit"."""

    def __init__(
        self, conn: socket.socket, sel: selectors.BaseSelector, lost: Callable[[], None]
    ) -> None:
        self.conn = conn
        self.lost = lost
        self.final: dict[str, object] | None = None
        self.gone = False
        sel.register(conn, selectors.EVENT_READ, "ctl")

    def on_ready(self) -> None:
        try:
            raw = self.conn.recv(1 << 16)
        except OSError:
            raw = b""
        if not raw:
            self.gone = True
            return
        msg = json.loads(raw)
        if msg.get("op") == "exit":
            self.final = msg

    @property
    def done(self) -> bool:
        return self.final is not None or self.gone

    def kill(self) -> None:
        try:
            self.conn.send(json.dumps({"op": "kill"}).encode())
        except OSError:
            self.gone = True

    def status(self) -> tuple[int | None, int | None]:
        assert self.final is not None
        code, sig = self.final.get("code"), self.final.get("signal")
        return (code if isinstance(code, int) else None, sig if isinstance(sig, int) else None)

    def finish(self) -> None:
        if self.gone:
            self.lost()


class _ExecWaiter:
    def __init__(self, proc: subprocess.Popen[bytes], backend: PodmanBackend) -> None:
        self.proc = proc
        self.backend = backend
        self.gone = False

    def on_ready(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return self.proc.poll() is not None

    def kill(self) -> None:
        self.backend._kill_all_exec()
        with contextlib.suppress(OSError):
            self.proc.kill()

    def status(self) -> tuple[int | None, int | None]:
        rc = self.proc.returncode
        return (rc, None) if rc is not None and rc >= 0 else (None, -rc if rc else None)

    def finish(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def _drain(
    pipes: list[int],
    in_w: int | None,
    job: _Job,
    *,
    wait: Callable[[selectors.BaseSelector], _InitWaiter | _ExecWaiter],
    close_pipes: bool = True,
) -> Completed:
    stdin, timeout, max_output = job.stdin or b"", job.timeout, job.max_output
    on_output, cancel = job.on_output, job.cancel
    started = time.monotonic()
    caps = {pipes[0]: ("stdout", HeadTail(max_output)), pipes[1]: ("stderr", HeadTail(max_output))}
    sel = selectors.DefaultSelector()
    for fd in pipes:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, "pipe")
    waiter = wait(sel)
    pending = memoryview(stdin)
    if in_w is not None:
        if pending:
            os.set_blocking(in_w, False)
            sel.register(in_w, selectors.EVENT_WRITE, "stdin")
        else:
            os.close(in_w)
            in_w = None
    open_pipes = set(pipes)
    deadline = None if timeout is None else started + timeout
    timed_out = cancelled = killed = False
    eof_deadline: float | None = None
    try:
        while open_pipes or not waiter.done:
            now = time.monotonic()
            if waiter.done:
                eof_deadline = eof_deadline or now + EOF_GRACE_S
                if now >= eof_deadline:
                    break
            wait_s = 0.05 if deadline is None else max(0.0, min(0.05, deadline - now))
            for key, _ in sel.select(wait_s):
                if key.data == "pipe":
                    drain_ready(sel, key.fd, caps, open_pipes, on_output)
                elif key.data == "ctl":
                    waiter.on_ready()
                    if waiter.done:
                        sel.unregister(key.fileobj)
                elif key.data == "stdin" and in_w is not None:
                    try:
                        sent = os.write(in_w, pending[:65536])
                        pending = pending[sent:]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(in_w)
                        os.close(in_w)
                        in_w = None
            if killed or waiter.done:
                continue
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = killed = True
                waiter.kill()
            elif cancel is not None and cancel.is_set():
                cancelled = killed = True
                waiter.kill()
    finally:
        sel.close()
        if close_pipes:
            for fd in pipes:
                os.close(fd)
        if in_w is not None:
            os.close(in_w)
        waiter.finish()
    code: int | None = None
    sig: int | None = None
    if waiter.gone and not killed:
        sig = signal.SIGKILL  # the container went away under the command (limits, podman)
    elif not killed and waiter.done:
        code, sig = waiter.status()
    out, err = caps[pipes[0]][1], caps[pipes[1]][1]
    return Completed(
        exit_code=code,
        stdout=out.value(),
        stderr=err.value(),
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
        cancelled=cancelled and not timed_out,
        signal=sig,
        stdout_total=out.total,
        stderr_total=err.total,
    )
