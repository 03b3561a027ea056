"""One command's life, in three processes.

    supervisor (S)  forked by the zygote *before* the command is known (a spare): joins the
                    pids cgroup, unshare(user, mount, pid, net, ipc, uts), id maps, the static
                    part of the mount view. It stays outside the new pid namespace, enforces
                    the timeout, cancel and process cap, and reports on the run's channel.
    init (C)        pid 1 of the new pid namespace, also forked ahead of time: fresh /proc,
                    setsid, rlimits, no_new_privs, Landlock, no capabilities, seccomp. When
                    the run arrives it takes the command's pipes, spawns the program, reaps.
    program (D)     posix_spawn'ed by init (vfork speed): only descriptors 0-2, its cwd, the
                    allow-listed environment, default signal dispositions.

When the program ends, init kills everything left in the namespace (kill(-1) as pid 1), reaps
it, closes its copies of the pipes and only then reports, so the console gets its answer before
the (slow) namespace teardown and never while a leftover of the command still runs. On a timeout,
a cancel or the process cap, S kills init, and the kernel kills the whole pid namespace with it,
including processes that called setsid or double-forked. Each process dies with its parent
(PR_SET_PDEATHSIG), and a spare S dies with the zygote.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any

from sandbox.linux import bridge, landlock, limits, mounts, namespaces, seccomp
from sandbox.linux import syscalls as sc
from sandbox.linux.protocol import Plan, Run, RunReport, split_run

SUPERVISOR_POLL_S = 0.02
READY_TIMEOUT_S = 20.0
MAX_MESSAGE = 1 << 20
_FILTERS: dict[bool, bytes] = {}


def seccomp_filter(allow_inet_stream: bool) -> bytes:
    code = _FILTERS.get(allow_inet_stream)
    if code is None:
        code = seccomp.assemble(seccomp.program(allow_inet_stream=allow_inet_stream))
        _FILTERS[allow_inet_stream] = code
    return code


@dataclass
class _Init:
    pid: int
    pidfd: int
    sock: socket.socket


# --------------------------------------------------------------------------- supervisor (S)


def spare_main(plan: Plan, zsock: socket.socket, cgroup: str | None) -> None:
    """Prepare everything the plan allows ahead of time, then wait for one run on `zsock`."""
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    setup_error = ""
    init: _Init | None = None
    listener: socket.socket | None = None
    host_root = stash = proc_fd = -1
    try:
        if cgroup is not None:
            limits.join_cgroup(cgroup)
        # The host's root, as the host sees it: only for dialling the proxy socket later.
        host_root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        namespaces.enter(os.getuid(), os.getgid())
        if plan.process_cap == limits.RLIMIT:
            limits.apply_nproc(plan.max_processes + 2)
        stash = mounts.build_static(plan.writable, plan.private, plan.tmp_size)
        if plan.network == "proxy":
            listener = bridge.listen(plan.proxy_port)
        init = _start_init(plan)
        if plan.process_cap == limits.SUPERVISOR:
            proc_fd = os.open("/proc", os.O_DIRECTORY | os.O_CLOEXEC)  # init's fresh /proc
    except (OSError, ValueError) as exc:
        setup_error = f"sandbox setup failed: {exc}"
    try:
        msg, fds, _, _ = socket.recv_fds(zsock, MAX_MESSAGE, 8)
    except OSError:
        return
    zsock.close()
    if not msg or len(fds) != 4:
        for fd in fds:
            os.close(fd)
        return
    chan = socket.socket(fileno=fds[0])
    stdio = (fds[1], fds[2], fds[3])
    try:
        if setup_error or init is None:
            raise ValueError(setup_error or "sandbox setup failed")
        run = Run.from_json(json.loads(split_run(msg)[1]))
        mounts.apply_run(stash, run.git_dirs, run.read_only, run.deny)
        target = None
        if listener is not None:
            target = bridge.open_target(run.proxy_socket, host_root)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        text = str(exc)
        if not text.startswith("sandbox setup failed"):
            text = f"sandbox setup failed: {text}"
        _report(chan, RunReport(error=text))
        return
    finally:
        for fd in (host_root, stash):
            if fd >= 0:
                os.close(fd)
    payload = json.dumps({"argv": list(run.argv), "env": run.env, "cwd": run.cwd}).encode()
    try:
        socket.send_fds(init.sock, [payload], list(stdio))
    except OSError as exc:
        _report(chan, RunReport(error=f"sandbox init is gone: {exc}"))
        return
    for fd in stdio:
        os.close(fd)
    _supervise(plan, run, chan, init, listener, target, proc_fd)


def _start_init(plan: Plan) -> _Init:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            keep = theirs.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, 1 << 20)
            _init_main(plan, theirs)
        finally:
            os._exit(125)
    theirs.close()
    ours.settimeout(READY_TIMEOUT_S)
    try:
        answer = ours.recv(MAX_MESSAGE)
    except TimeoutError as exc:
        os.kill(pid, signal.SIGKILL)
        raise ValueError("sandbox init did not get ready") from exc
    ours.settimeout(None)
    if answer != b"ready":
        try:
            detail = str(json.loads(answer).get("error", "")) if answer else ""
        except ValueError:
            detail = ""
        raise ValueError(detail or "sandbox init died while setting up")
    return _Init(pid, os.pidfd_open(pid), ours)


def _supervise(
    plan: Plan,
    run: Run,
    chan: socket.socket,
    init: _Init,
    listener: socket.socket | None,
    target: bridge.Target | None,
    proc_fd: int,
) -> None:
    sel = selectors.DefaultSelector()
    sel.register(init.pidfd, selectors.EVENT_READ, "child")
    sel.register(chan, selectors.EVENT_READ, "chan")
    sel.register(init.sock, selectors.EVENT_READ, "init")
    relay = bridge.Relay(sel, listener, target) if listener and target else None
    deadline = None if run.timeout is None else time.monotonic() + run.timeout
    timed_out = cancelled = reported = child_done = False
    note = ""
    final: dict[str, Any] | None = None
    watch_count = proc_fd >= 0
    while not child_done:
        wait: float | None = None
        if deadline is not None:
            wait = max(0.0, deadline - time.monotonic())
        if watch_count:
            wait = SUPERVISOR_POLL_S if wait is None else min(wait, SUPERVISOR_POLL_S)
        for key, mask in sel.select(wait):
            tag = key.data
            if tag == "child":
                child_done = True
            elif tag == "chan":
                data = _recv(chan)
                sel.unregister(chan)
                if not reported:  # b"cancel", or the console went away
                    cancelled = True
                    _kill(init.pidfd)
            elif tag == "init":
                data = _recv(init.sock)
                if not data:
                    sel.unregister(init.sock)
                    continue
                final = _parse_final(data)
                if final is not None and not (reported or timed_out or cancelled):
                    # init has reaped every process and closed the pipes: answer now, tear the
                    # namespaces down afterwards.
                    _report(chan, _outcome(final, timed_out, cancelled, note, None))
                    reported = True
                    deadline = None
                    watch_count = False
                    if relay is not None:
                        relay.close()
                        relay = None
            elif relay is not None:
                relay.handle(key, mask)
        if reported:
            continue
        if deadline is not None and not child_done and time.monotonic() >= deadline:
            timed_out = True
            _kill(init.pidfd)
            deadline = None
        if watch_count and not child_done:
            try:
                count = limits.count_processes(proc_fd)
            except OSError:
                count = 0
            if count > plan.max_processes + 1:
                note = f"process limit ({plan.max_processes}) reached: every process was killed"
                _kill(init.pidfd)
                watch_count = False
    _, wstatus = os.waitpid(init.pid, 0)
    if relay is not None:
        relay.close()
    if not reported:
        _report(chan, _outcome(final, timed_out, cancelled, note, wstatus))


def _parse_final(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    if isinstance(value, dict) and ("code" in value or "signal" in value):
        return value
    return None


def _outcome(
    final: dict[str, Any] | None,
    timed_out: bool,
    cancelled: bool,
    note: str,
    wstatus: int | None,
) -> RunReport:
    if timed_out or cancelled:
        return RunReport(timed_out=timed_out, cancelled=cancelled and not timed_out, note=note)
    if final is not None:
        code, sig = final.get("code"), final.get("signal")
        return RunReport(
            exit_code=code if isinstance(code, int) else None,
            signal=sig if isinstance(sig, int) else None,
            note=note,
        )
    if note and wstatus is not None and os.WIFSIGNALED(wstatus):
        return RunReport(signal=os.WTERMSIG(wstatus), note=note)
    return RunReport(error="sandbox init ended without a status")


def _kill(pidfd: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(MAX_MESSAGE)
    except OSError:
        return b""


def _report(chan: socket.socket, report: RunReport) -> None:
    with contextlib.suppress(OSError):
        chan.send(report.encode())


# --------------------------------------------------------------------------- init (C)


def _init_main(plan: Plan, sock: socket.socket) -> None:
    """pid 1 of the namespace. Never returns."""
    try:
        sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
        sc.prctl(sc.PR_SET_DUMPABLE, 0)  # the command may not open /proc/1/fd or /proc/1/cwd
        os.chdir("/")
        mounts.mount_proc()
        sc.sethostname("lockgate")
        os.setsid()  # no controlling terminal: no TIOCSTI into the reviewer's terminal
        limits.apply_rlimits(
            limits.Limits(
                plan.max_processes, plan.cpu_seconds, plan.max_file_size, plan.max_open_files
            )
        )
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        if plan.landlock_abi:
            landlock.restrict_self(
                plan.landlock_abi,
                _landlock_rules(plan),
                connect_ports=(plan.proxy_port,) if plan.network == "proxy" else (),
            )
        _drop_capabilities()
        if plan.seccomp:
            seccomp.install(seccomp_filter(plan.network == "proxy"))
    except Exception as exc:  # any failure here means the command must not run
        _send(sock, json.dumps({"error": f"sandbox setup failed: {exc}"}).encode())
        os._exit(125)
    _send(sock, b"ready")
    try:
        msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
    except OSError:
        os._exit(0)
    if not msg or len(fds) != 3:
        os._exit(0)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    try:
        run = json.loads(msg)
        code = _spawn_and_reap(run["argv"], run["env"], run["cwd"], sock.fileno())
    except (ValueError, KeyError, TypeError) as exc:
        os.write(2, f"lockgate-sandbox: bad run request: {exc}\n".encode())
        code = {"code": 125}
    # Nothing of the command is left: close our copies of its pipes, then report.
    for fd in (0, 1, 2):
        os.close(fd)
    _send(sock, json.dumps(code).encode())
    os._exit(0)


def _send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.send(data)


def _spawn_and_reap(argv: list[str], env: dict[str, str], cwd: str, keep: int) -> dict[str, int]:
    """Start the program, wait for it, then kill and reap every process left in the namespace
    (daemons, setsid and double-forked children)."""
    try:
        os.chdir(cwd)
    except OSError as exc:
        os.write(2, f"lockgate-sandbox: cannot enter {cwd}: {exc.strerror}\n".encode())
        return {"code": 126}
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)
    path = _which(argv[0], env.get("PATH", ""))
    if path is None:
        os.write(2, f"lockgate-sandbox: {argv[0]}: command not found\n".encode())
        return {"code": 127}
    try:
        pid = os.posix_spawn(
            path,
            argv,
            env,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGINT),
        )
    except OSError as exc:
        os.write(2, f"lockgate-sandbox: {argv[0]}: {exc.strerror}\n".encode())
        return {"code": 127 if isinstance(exc, FileNotFoundError) else 126}
    code = {"code": 125}
    while True:
        try:
            done, wstatus = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if done == pid:
            if os.WIFSIGNALED(wstatus):
                code = {"signal": os.WTERMSIG(wstatus)}
            else:
                code = {"code": os.waitstatus_to_exitcode(wstatus)}
            # as pid 1: every other process of the namespace
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
    return code


def _which(name: str, path: str) -> str | None:
    if "/" in name:
        return name
    for d in path.split(os.pathsep):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _landlock_rules(plan: Plan) -> list[landlock.PathRule]:
    abi = plan.landlock_abi
    rw = landlock.writable_rights(abi)
    dev = landlock.READ_FILE | landlock.WRITE_FILE | landlock.IOCTL_DEV | landlock.TRUNCATE
    rules = [landlock.PathRule("/", landlock.READ)]
    rules += [landlock.PathRule(p, rw) for p in plan.writable]
    scratch = [p for p in ("/tmp", "/var/tmp") if p in plan.private]
    rules += [landlock.PathRule(p, rw) for p in (*scratch, "/dev/shm")]
    rules += [landlock.PathRule(f"/dev/{n}", dev) for n in mounts.DEV_NODES]
    rules.append(landlock.PathRule("/dev/pts", dev | landlock.READ_DIR))
    return rules


def _drop_capabilities() -> None:
    """Root in the user namespace keeps no capability into the program."""
    for cap in range(sc.cap_last_cap() + 1):
        with contextlib.suppress(OSError):
            sc.prctl(sc.PR_CAPBSET_DROP, cap)
    # SECBIT_NOROOT(+LOCKED) | SECBIT_NO_SETUID_FIXUP(+LOCKED) | SECBIT_KEEP_CAPS_LOCKED
    sc.prctl(sc.PR_SET_SECUREBITS, 0x01 | 0x02 | 0x04 | 0x08 | 0x20)
    sc.clear_capabilities()
