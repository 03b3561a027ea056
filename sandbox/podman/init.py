"""PID 1 of a lockgate container: forks each command the console sends, and after each command
kills every process the command left (the way the Linux backend's pid namespace dies).

Runs INSIDE the container, as `python3 -I -S /.lockgate/code/init.py CTL_DIR [PORT PROXY_SOCK]`,
stdlib only, importing nothing of lockgate but bridge.py (copied next to it, for proxy mode).

The console connects once to CTL_DIR/init.sock (SOCK_SEQPACKET); the listener is then closed and
unlinked, so no command can ever reach this control channel. Messages are JSON, one per packet,
with descriptors passed alongside:
  console -> init: {"op": "run", argv, cwd, env} + fds [stdin, stdout, stderr(, script)]
                   {"op": "kill"}
  init -> console: {"op": "started", "pid": N} / {"op": "exit", "code": C, "signal": S}
When the console's end closes, init kills everything and exits (the container stops).
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time

MAX_FDS = 4


def _recv(conn: socket.socket) -> tuple[dict[str, object] | None, list[int]]:
    fds = array.array("i")
    msg, anc, _flags, _addr = conn.recvmsg(1 << 20, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not msg:
        return None, list(fds)
    return json.loads(msg), list(fds)


def _send(conn: socket.socket, obj: dict[str, object]) -> None:
    conn.send(json.dumps(obj).encode())


def _kill_all() -> None:
    """SIGKILL every process of the container but this one, then reap them all."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _fresh_tmp() -> None:
    """Empty /tmp and /dev/shm: every command starts with them fresh, as in the Linux backend
    (nothing runs any more that could race this; symlinks are removed, never followed).

    Only what lives on the tmpfs itself goes: the workspace, writable roots and readable roots
    under /tmp are bind mounts in it, and a walk that crossed into one would delete the user's
    files on the host. Nothing on another device is entered or removed."""
    for top in ("/tmp", "/dev/shm"):
        try:
            dev = os.lstat(top).st_dev
        except OSError:
            continue
        _empty_same_device(top, dev)


def _empty_same_device(top: str, dev: int) -> None:
    """Remove everything below `top` on device `dev`, depth first, iteratively; a directory on
    another device (a mount point) is left whole, and so are the directories leading to it."""
    stack: list[tuple[str, bool]] = [(top, False)]
    while stack:
        path, visited = stack.pop()
        if visited:
            if path != top:
                with contextlib.suppress(OSError):
                    os.rmdir(path)  # fails (and stays) when it still holds a mount point
            continue
        stack.append((path, True))
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_dev != dev:
                continue  # a mount point: never entered, never removed
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, False))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _child(msg: dict[str, object], fds: list[int]) -> None:
    try:
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(len(fds), 1 << 16)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.chdir(str(msg["cwd"]))
        argv = [str(a) for a in msg["argv"]]  # type: ignore[attr-defined]
        env = {str(k): str(v) for k, v in msg["env"].items()}  # type: ignore[attr-defined]
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.write(2, f"lockgate: cannot run {msg.get('argv')!r}: {e.strerror}\n".encode())
        os._exit(126 if isinstance(e, PermissionError) else 127)
    finally:
        os._exit(127)


def _wait(conn: socket.socket, pid: int) -> tuple[int, bool]:
    """Wait for the command's process; a "kill" (or the console gone) kills everything."""
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    while True:
        ready = select.select([conn] + ([pidfd] if pidfd is not None else []), [], [], 0.01)[0]
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            if pidfd is not None:
                os.close(pidfd)
            return status, False
        if conn in ready:
            msg, fds = _recv(conn)
            for fd in fds:
                os.close(fd)
            if msg is None or msg.get("op") == "kill":
                _kill_all()
                if pidfd is not None:
                    os.close(pidfd)
                return 0, msg is None


def _bridge(port: int, sock_path: str) -> None:
    """127.0.0.1:PORT inside, relayed to the console's proxy socket mounted in (bridge.py)."""
    import selectors

    import bridge

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))  # podman brings the loopback up
    listener.listen(128)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    relay = bridge.Relay(sel, listener, bridge.Target(sock_path))

    def loop() -> None:
        while True:
            for key, mask in sel.select():
                relay.handle(key, mask)

    threading.Thread(target=loop, daemon=True).start()


def main(argv: list[str]) -> int:
    ctl = argv[1]
    if len(argv) >= 4:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        _bridge(int(argv[2]), argv[3])
    path = os.path.join(ctl, "init.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    listener.bind(path)
    listener.listen(1)
    conn, _ = listener.accept()
    listener.close()
    os.unlink(path)
    while True:
        msg, fds = _recv(conn)
        if msg is None:
            _kill_all()
            return 0
        if msg.get("op") != "run" or len(fds) < 3:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            conn.close()
            _child(msg, fds)
        for fd in fds:
            os.close(fd)
        started = time.monotonic()
        _send(conn, {"op": "started", "pid": pid})
        status, gone = _wait(conn, pid)
        _kill_all()  # what the command left behind (background jobs, setsid, nohup)
        _fresh_tmp()
        if gone:
            return 0
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        _send(conn, {"op": "exit", "code": code, "signal": sig, "s": time.monotonic() - started})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
