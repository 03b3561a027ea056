"""A jail: one long-lived program (an ACP agent) inside the sandbox, on a copy-on-write view of
the workspace, with its stdin/stdout/stderr as pipes the console keeps.

It reuses the sandbox as it is. The zygote is started one step further in: `jail_overlay` first
gives it a private user and mount namespace in which the workspace is an overlayfs (lower: the
real workspace; upper: a directory private to lockgate). Every spare the zygote makes copies that
view, then builds the sandbox's usual layers on top (read-only root, hidden secrets, protected
binds, private /tmp, Landlock, seccomp, no capabilities, network off or through the proxy
bridge). The agent is the spare's one program; its pipes are ours instead of the per-run ones.

What the agent (or anything it runs) writes lands in the upper layer. The console reads the
changes from there (`upper`), and reads or restores files as the agent sees them through the
zygote's root (`merged`), which is the only way to touch an overlay that is in use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.linux import client as zclient
from sandbox.linux.backend import LinuxBackend
from sandbox.linux.client import Spare, Zygote
from sandbox.linux.jail_overlay import bootstrap_prefix, overlay_options
from sandbox.linux.protocol import Run, spare_request
from sandbox.linux.zygote import bootstrap_argv
from sandbox.policy import SandboxError, SandboxPolicy, SandboxUnavailable
from sandbox.probe import KernelSupport
from sandbox.workspace import prepare


class _OverlayZygote(Zygote):
    """The sandbox zygote, started inside the overlay's namespaces."""

    def __init__(self, python: str, workspace: str, upper: str, work: str) -> None:
        super().__init__(python)
        self._prefix = bootstrap_prefix(python, workspace, upper, work)
        self.stderr_path = os.path.join(os.path.dirname(upper), "jail.err")

    def _start_locked(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = [*self._prefix, *bootstrap_argv(self.python), str(theirs.fileno())]
            with open(self.stderr_path, "wb") as err:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    pass_fds=(theirs.fileno(),),
                    env={},
                    close_fds=True,
                    start_new_session=True,
                )
        except OSError as exc:
            ours.close()
            raise SandboxError(f"cannot start the jail: {exc}") from exc
        finally:
            theirs.close()
        self._control = ours

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def failure(self) -> str:
        """The overlay step's own one-line reason, when it failed."""
        try:
            text = Path(self.stderr_path).read_text(errors="replace").strip()
        except OSError:
            return ""
        lines = [ln for ln in text.splitlines() if ln.startswith("lockgate-jail:")]
        return lines[-1].removeprefix("lockgate-jail: ") if lines else ""


@dataclass
class JailedProcess:
    """The agent: its pipes (ours to wrap in asyncio streams) and its sandbox's init."""

    stdin: int
    stdout: int
    stderr: int
    spare: Spare = field(repr=False)
    _exit: dict[str, int] | None = None

    @property
    def pidfd(self) -> int:
        return self.spare.pidfd

    def exited(self) -> bool:
        """True once the sandbox's init is gone (the agent and all it started are dead)."""
        if self.spare.pidfd < 0:
            return True
        import select

        ready, _, _ = select.select([self.spare.pidfd], [], [], 0)
        return bool(ready)

    def kill(self) -> None:
        """Kill the sandbox's init: the kernel then kills every process of the namespace."""
        self.spare.kill()

    def close(self) -> None:
        self.kill()
        for fd in (self.stdin, self.stdout, self.stderr):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.spare.close()


class Jail:
    """`Jail(policy, state_dir)`: `start()` builds it (or raises SandboxUnavailable with a
    one-line reason), `spawn()` starts the agent, `close()` ends everything."""

    def __init__(
        self,
        policy: SandboxPolicy,
        state_dir: Path,
        *,
        python: str | None = None,
        kernel: KernelSupport | None = None,
    ) -> None:
        self.policy = policy.checked()
        self.state_dir = Path(state_dir)
        self.upper = self.state_dir / "upper"
        self.work = self.state_dir / "work"
        self._python = python
        self._kernel = kernel
        self._backend: LinuxBackend | None = None
        self._zygote: _OverlayZygote | None = None

    @property
    def workspace(self) -> Path:
        return self.policy.workspace

    def start(self) -> None:
        ws = str(self.policy.workspace)
        for layer in (self.state_dir, self.upper, self.work):
            if layer == self.policy.workspace or self.policy.workspace in layer.parents:
                raise SandboxUnavailable(
                    "jail: the overlay's upper layer must be outside the workspace"
                )
        self.upper.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        try:
            overlay_options(ws, str(self.upper), str(self.work))
        except ValueError as exc:
            raise SandboxUnavailable(f"jail: {exc}") from None
        backend = LinuxBackend(self.policy)
        backend.zygote.close()
        zygote = _OverlayZygote(backend.zygote.python, ws, str(self.upper), str(self.work))
        backend.zygote = zygote
        self._backend, self._zygote = backend, zygote
        try:
            zygote.start()
            try:
                kernel = self._kernel or KernelSupport.from_probe(backend.zygote_probe())
            except (SandboxError, ValueError) as exc:
                why = zygote.failure() or str(exc)
                raise SandboxUnavailable(f"jail unavailable: {why}") from None
            backend.configure(kernel)
            refusal = kernel.refusal(self.policy.allow_degraded)
            if refusal:
                raise SandboxUnavailable(f"jail unavailable: {refusal}")
        except BaseException:
            self.close()
            raise

    def merged(self, rel: str = "") -> Path:
        """A path as the jailed agent sees it (through the jail zygote's root)."""
        if self._zygote is None or self._zygote.pid is None:
            raise SandboxError("the jail is not running")
        base = Path(f"/proc/{self._zygote.pid}/root") / str(self.policy.workspace).lstrip("/")
        return base / rel if rel else base

    def spawn(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str | None = None,
        proxy_socket: Path | None = None,
    ) -> JailedProcess:
        backend = self._backend
        if backend is None:
            raise SandboxError("the jail is not started")
        if not argv:
            raise SandboxError("nothing to run: empty command")
        prep = prepare(self.policy.workspace, self.policy.protected, self.policy.writable)
        key = spare_request(backend._plan(), backend._view(prep))
        spare = backend.zygote.take(key)
        try:
            if proxy_socket is not None:
                zclient._connect_proxy(spare, str(proxy_socket))
            assert spare.init is not None
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            payload = Run(tuple(argv), env, cwd or str(self.policy.workspace)).encode()
            try:
                socket.send_fds(spare.init, [payload], [in_r, out_w, err_w])
            except OSError as exc:
                for fd in (in_w, out_r, err_r):
                    os.close(fd)
                raise SandboxError(f"jail init is gone: {exc}") from exc
            finally:
                for fd in (in_r, out_w, err_w):
                    os.close(fd)
        except BaseException:
            spare.kill()
            spare.close()
            raise
        return JailedProcess(in_w, out_r, err_r, spare)

    def close(self) -> None:
        if self._backend is not None:
            with contextlib.suppress(Exception):
                self._backend.close()
        if self._zygote is not None and self._zygote._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._zygote._proc.pid, signal.SIGKILL)
        self._backend = self._zygote = None
