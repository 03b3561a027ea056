"""One command's life, in three processes, all made before the command is known.

    supervisor (S)  forked by the zygote as a *spare*: joins the pids cgroup, unshare(user,
                    mount, pid, net, ipc, uts), id maps, the whole mount view, forks init; then
                    hands init's socket and pidfd to the console and stays outside the new pid
                    namespace to enforce the process cap and run the proxy bridge.
    init (C)        pid 1 of the new pid namespace: fresh read-only /proc, setsid, rlimits,
                    no_new_privs, Landlock, no capabilities, seccomp; then it waits. When the
                    console sends the run it takes the command's pipes, spawns it, reaps.
    program (D)     posix_spawn'ed by init (vfork speed): only descriptors 0-2, its cwd, the
                    allow-listed environment, default signal dispositions.

A run is then one message from the console to init and one answer back. When the program ends,
init kills everything left in the namespace (kill(-1) as pid 1), answers, and exits; the kernel
then kills whatever a fork in flight left behind (no new pid is allocated in a namespace whose
init is gone), and the console returns only once init's pidfd says it has exited. On a timeout
or a cancel the console kills init through that pidfd (S does the same at the process cap), with
the same effect, including processes that called setsid or double-forked. Each process dies
with its parent (PR_SET_PDEATHSIG), and every spare dies with the zygote.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket

from sandbox.linux import landlock, limits, mounts, namespaces, seccomp
from sandbox.linux import syscalls as sc
from sandbox.linux.protocol import Plan, View, read_run
from sandbox.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sandbox.linux import bridge

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


@record(frozen=False)
class _Init:
    pid: int
    pidfd: int
    sock: socket.socket


# --------------------------------------------------------------------------- supervisor (S)


def spare_main(
    plan: Plan,
    view: View,
    reply: socket.socket,
    cgroup: str | None,
    memory_cgroup: str | None = None,
) -> None:
    """Build everything ahead of time, hand init's socket and pidfd to the console, then watch
    init until it exits (process cap, proxy bridge, the console going away)."""
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    listener: socket.socket | None = None
    host_root = stash = proc_fd = -1
    try:
        if plan.process_cap == limits.CGROUP:
            if cgroup is None:
                raise ValueError("the pids cgroup for the process cap is unavailable")
            limits.join_cgroup(cgroup)
        if memory_cgroup is not None:
            limits.join_cgroup(memory_cgroup)  # the whole command's memory, all processes
        if plan.network == "proxy":
            # Only proxy mode needs the bridge; it is imported while the host's files are
            # still in view (the mount namespace is rebuilt below).
            from sandbox.linux import bridge
        # The host's root, as the host sees it: only for dialling the proxy socket later.
        host_root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        namespaces.enter(os.getuid(), os.getgid())
        if plan.process_cap == limits.RLIMIT:
            limits.apply_nproc(plan.max_processes + 2)
        stash = mounts.build_static(
            plan.writable, plan.private, plan.tmp_size, plan.readable, plan.hidden, plan.home_links
        )
        mounts.apply_run(stash, view.git_dirs, view.read_only, view.deny)
        # sockets in the workspace covered, hard links out of it broken
        mounts.secure_writable(stash, plan.writable, plan.allow_sockets)
        os.close(stash)
        if plan.network == "proxy":
            listener = bridge.listen(plan.proxy_port)
        else:
            os.close(host_root)
            host_root = -1
        init = _start_init(plan)
        if plan.process_cap == limits.SUPERVISOR:
            proc_fd = os.open("/proc", os.O_DIRECTORY | os.O_CLOEXEC)  # init's fresh /proc
    except (OSError, ValueError) as exc:
        _send(reply, json.dumps({"error": f"sandbox setup failed: {exc}"}).encode())
        return
    try:
        socket.send_fds(reply, [b"ready"], [init.sock.fileno(), init.pidfd])
    except OSError:
        _kill(init.pidfd)
        return
    init.sock.close()  # init now talks to the console only
    _watch(plan, reply, init, listener, host_root, proc_fd)


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


def _watch(
    plan: Plan,
    reply: socket.socket,
    init: _Init,
    listener: socket.socket | None,
    host_root: int,
    proc_fd: int,
) -> None:
    sel = selectors.DefaultSelector()
    sel.register(init.pidfd, selectors.EVENT_READ, "child")
    sel.register(reply, selectors.EVENT_READ, "reply")
    relay: bridge.Relay | None = None
    watch_count = proc_fd >= 0
    while True:
        wait = SUPERVISOR_POLL_S if watch_count else None
        for key, mask in sel.select(wait):
            tag = key.data
            if tag == "child":
                if relay is not None:
                    relay.close()
                os.waitpid(init.pid, 0)
                return
            if tag == "reply":
                msg = _recv(reply)
                if not msg:  # the console closed the spare (or went away): end the namespace
                    sel.unregister(reply)
                    _kill(init.pidfd)
                elif msg.startswith(b"proxy\n") and listener is not None and relay is None:
                    from sandbox.linux import bridge  # (imported by spare_main in proxy mode)

                    try:
                        target = bridge.open_target(msg[6:].decode(), host_root)
                    except (OSError, ValueError) as exc:
                        _send(reply, json.dumps({"error": f"sandbox setup failed: {exc}"}).encode())
                        continue
                    finally:
                        os.close(host_root)
                        host_root = -1
                    relay = bridge.Relay(sel, listener, target)
                    _send(reply, b"ok")
            elif relay is not None:
                relay.handle(key, mask)
        if watch_count:
            try:
                count = limits.count_processes(proc_fd)
            except OSError:
                count = 0
            if count > plan.max_processes + 1:
                note = f"process limit ({plan.max_processes}) reached: every process was killed"
                _send(reply, json.dumps({"note": note}).encode())
                _kill(init.pidfd)
                watch_count = False


def _kill(pidfd: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(MAX_MESSAGE)
    except OSError:
        return b""


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
                plan.max_processes,
                plan.cpu_seconds,
                plan.max_file_size,
                plan.max_open_files,
                plan.memory,
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
        msg, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
    except OSError:
        os._exit(0)
    if not msg or len(fds) not in (3, 4):
        os._exit(0)
    try:
        msg = read_run(msg, fds[3:])  # a long run message comes in a memfd
    except OSError:
        msg = b""
    fds = fds[:3]
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    try:
        run = json.loads(msg)
        script = run.get("script")
        if script is not None and not isinstance(script, str):
            raise TypeError("script must be text")
        code = _spawn_and_reap(run["argv"], run["env"], run["cwd"], sock.fileno(), script)
    except (ValueError, KeyError, TypeError) as exc:
        os.write(2, f"lockgate-sandbox: bad run request: {exc}\n".encode())
        code = {"code": 125}
    for fd in (0, 1, 2):
        os.close(fd)
    _send(sock, json.dumps(code).encode())
    os._exit(0)


def _send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.send(data)


def _spawn_and_reap(
    argv: list[str], env: dict[str, str], cwd: str, keep: int, script: str | None = None
) -> dict[str, int]:
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
    actions: list[tuple[int, int, int]] = []
    if script is not None:  # the program reads it from descriptor 3 (`bash /dev/fd/3`)
        sfd = os.memfd_create("lockgate-script", os.MFD_CLOEXEC)
        data = memoryview(script.encode("utf-8", "surrogateescape"))
        while data:
            data = data[os.write(sfd, data) :]
        os.lseek(sfd, 0, os.SEEK_SET)
        actions.append((os.POSIX_SPAWN_DUP2, sfd, 3))
    try:
        pid = os.posix_spawn(
            path,
            argv,
            env,
            file_actions=actions,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGINT),
        )
    except OSError as exc:
        os.write(2, f"lockgate-sandbox: {argv[0]}: {exc.strerror}\n".encode())
        return {"code": 127 if isinstance(exc, FileNotFoundError) else 126}
    while True:  # reap orphans until the program itself ends
        try:
            done, wstatus = os.waitpid(-1, 0)
        except ChildProcessError:
            return {"code": 125}
        except InterruptedError:
            continue
        if done == pid:
            break
    # As pid 1: kill every other process of the namespace now. Whatever a fork in flight
    # leaves behind dies when init exits (the kernel kills the whole namespace then, and
    # allocates no new pid in it), and the console waits for init's exit before it returns.
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    if os.WIFSIGNALED(wstatus):
        return {"signal": os.WTERMSIG(wstatus)}
    return {"code": os.waitstatus_to_exitcode(wstatus)}


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
    # reads by allow-list (sandbox.visible): never "/" as a whole
    rules = [landlock.PathRule(p, landlock.READ) for p in plan.read_rules]
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
