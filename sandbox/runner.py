"""`Sandbox`: the one object the console (and `lockgate sandbox run`) uses to run a command.

It checks the policy, probes the kernel once, refuses when a required layer is missing (unless
the policy explicitly accepts a degraded sandbox), keeps one zygote (and its spare sandboxes)
for every command, and runs the workspace guard after each command.

`kernel=` injects a probe result: tests use it to check refusals and the degraded mode; a
KernelSupport claiming more than the kernel has cannot help, the layers then fail to apply and
the command never runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sandbox.output import escape_text
from sandbox.policy import Completed, PolicyError, SandboxError, SandboxPolicy, SandboxUnavailable
from sandbox.probe import KernelSupport, Layer
from sandbox.records import record
from sandbox.replaced import (
    ReplaceWatch,
    git_config_texts,
    replaced_since,
    risky_new_keys,
    single_files,
    strip_keys,
)
from sandbox.workspace import GuardReport, Prepared, guard_run, prepare

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Protocol

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@record
class SandboxStatus:
    """What the console header shows: which layers hold, and loudly, which do not."""

    platform: str
    layers: tuple[Layer, ...]
    network: str
    degraded: tuple[str, ...]
    process_cap: str
    workspace: str

    @property
    def ok(self) -> bool:
        return not self.degraded

    def summary(self) -> str:
        active = [layer.name for layer in self.layers if layer.ok]
        head = (
            "DEGRADED SANDBOX: " + ", ".join(self.degraded) + " missing; " if self.degraded else ""
        )
        return f"{head}{len(active)} layers active, network {self.network}, cap {self.process_cap}"


class Sandbox:
    def __init__(
        self,
        policy: SandboxPolicy,
        *,
        kernel: KernelSupport | None = None,
        prewarm: bool = True,
        in_process: bool = False,
    ) -> None:
        """`prewarm=False` for one-shot use (`lockgate sandbox run`): no spare sandboxes are
        made ahead of time, the one command makes its own. `in_process=True` (Linux, a
        single-threaded caller only): this process forks the sandboxes itself, with the
        zygote's own code, instead of starting a zygote process (sandbox/linux/oneshot.py)."""
        self.policy = policy.checked()
        self._kernel = kernel
        self._prewarm_enabled = prewarm
        self._in_process = in_process
        self._impl: _Backend | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        with self._lock:
            if self._impl is not None:
                return
            if self.policy.backend == "podman":
                from sandbox.podman.backend import PodmanBackend

                podman = PodmanBackend(self.policy)
                self._kernel = podman.support()  # podman's layers, not the kernel's
                self._impl = podman
            elif sys.platform == "darwin":
                from sandbox.macos.runner import SeatbeltBackend

                self._impl = SeatbeltBackend(self.policy)
                if self._kernel is None:
                    self._kernel = KernelSupport(
                        platform="darwin", seatbelt=os.path.exists("/usr/bin/sandbox-exec")
                    )
            elif sys.platform.startswith("linux"):
                from sandbox.linux.backend import LinuxBackend

                backend_cls: type[LinuxBackend] = LinuxBackend
                if self._in_process:
                    from sandbox.linux.oneshot import OneShotBackend

                    backend_cls = OneShotBackend
                backend = backend_cls(self.policy)
                try:
                    if self._kernel is None:
                        self._kernel = KernelSupport.from_probe(backend.zygote_probe())
                    backend.configure(self._kernel)
                except BaseException:
                    backend.close()
                    raise
                self._impl = backend
            else:
                raise SandboxUnavailable(f"sandbox unavailable: no sandbox for {sys.platform}")
            refusal = self._kernel.refusal(self.policy.allow_degraded)
            if refusal:
                self._impl.close()
                self._impl = None
                raise SandboxUnavailable(refusal)
            self._prewarm(self._impl)

    def close(self) -> None:
        with self._lock:
            if self._impl is not None:
                self._impl.close()
                self._impl = None

    @property
    def kernel(self) -> KernelSupport:
        self.start()
        assert self._kernel is not None
        return self._kernel

    def status(self) -> SandboxStatus:
        kernel = self.kernel
        degraded = tuple(layer.name for layer in kernel.missing())
        return SandboxStatus(
            platform=kernel.platform,
            layers=kernel.layers(),
            network=self.policy.network,
            degraded=degraded,
            process_cap=kernel.process_cap or ("seatbelt" if kernel.platform == "darwin" else ""),
            workspace=str(self.policy.workspace),
        )

    def run(
        self,
        argv: list[str] | tuple[str, ...],
        *,
        timeout: float | None = None,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        max_output: int = 1 << 20,
        on_output: Callable[[str, bytes], None] | None = None,
        cancel: threading.Event | None = None,
        proxy_socket: Path | None = None,
        script: str | None = None,
        inherit: Mapping[str, str] | None = None,
    ) -> Completed:
        """Run argv in the sandbox and wait. Thread-safe. Raises SandboxError when the sandbox
        cannot be set up (the command then never ran). `script`: text the program reads from
        descriptor 3 (run `bash /dev/fd/3` with a command too long for one argument).
        `inherit`: the environment the policy's allow-list picks from, when it is not this
        process's own (a run handed over by another process); `env` is added on top either way."""
        if not argv:
            raise SandboxError("nothing to run: empty command")
        if timeout is not None and not timeout > 0:  # NaN too
            raise SandboxError("timeout must be positive")
        self.start()
        impl = self._impl
        if impl is None:
            raise SandboxError("sandbox is closed")
        workdir = self._workdir(cwd)
        full_env = self._env(workdir, env, proxy_socket, os.environ if inherit is None else inherit)
        prep = prepare(self.policy.workspace, self.policy.protected, self.policy.writable)
        started = time.monotonic()
        report = GuardReport()
        # single-file covers a host rename would detach (see sandbox/replaced.py)
        covers = single_files(prep.read_only)
        configs = git_config_texts(covers)
        watch = ReplaceWatch(list(covers))
        stop = _Either(cancel, watch)
        try:
            completed = impl.run(
                list(argv),
                cwd=workdir,
                env=full_env,
                timeout=timeout,
                stdin=stdin,
                max_output=max_output,
                on_output=on_output,
                cancel=stop,
                proxy_socket=proxy_socket or self.policy.proxy_socket,
                prepared=prep,
                **({"script": script} if script is not None else {}),
            )
        finally:
            watch.close()
            replaced = replaced_since(covers, watch.seen)
            # also when the run ends in an error or an interrupt: whatever the command created
            # before that must not outlive it
            report = guard_run(self.policy.workspace, prep)
        failures = list(completed.guard_failures + report.failures)
        for path in replaced:
            stopped = " (the run was stopped at once)" if watch.hit else ""
            gained = risky_new_keys(configs[path], path) if path in configs else []
            keys = ""
            if gained:
                # fail closed: keys that run programs, new since the run began, are dropped
                try:
                    dropped = strip_keys(path, str(self.policy.workspace), gained)
                    done = f"; {dropped} line(s) of them were dropped"
                except OSError as exc:
                    done = f"; they could not be dropped ({exc.strerror})"
                keys = (
                    "; it gained keys that can run programs: "
                    f"{escape_text(', '.join(sorted({f'{g[0]}.{g[1]}' for g in gained})))}{done}"
                )
            failures.append(
                f"{escape_text(_shown(path, self.policy.workspace))} was replaced on the host "
                "during the run: its read-only cover came off, so the command could write it "
                f"from then on{stopped}{keys}; check it"
            )
        # stopped by the watch (not by the caller): its processes were killed
        stopped_here = completed.cancelled and not (cancel is not None and cancel.is_set())
        self._prewarm(impl)
        return Completed(
            exit_code=completed.exit_code,
            stdout=completed.stdout,
            stderr=completed.stderr,
            timed_out=completed.timed_out,
            duration_s=time.monotonic() - started,
            cancelled=completed.cancelled and not stopped_here,
            signal=signal.SIGKILL if stopped_here else completed.signal,
            stdout_total=completed.stdout_total,
            stderr_total=completed.stderr_total,
            guard=completed.guard + report.notes,
            guard_failures=tuple(failures),
        )

    def _prewarm(self, impl: _Backend) -> None:
        """Spares for the next command, made for the workspace as it is now. Best effort: a
        failure here shows (as an error) when a command really needs a sandbox."""
        if not self._prewarm_enabled:
            return
        with contextlib.suppress(SandboxError):
            impl.prewarm(
                prepare(self.policy.workspace, self.policy.protected, self.policy.writable)
            )

    def _workdir(self, cwd: Path | None) -> str:
        ws = self.policy.workspace
        if cwd is None:
            return str(ws)
        target = Path(cwd) if Path(cwd).is_absolute() else ws / cwd
        real = Path(os.path.realpath(target))
        if real != ws and ws not in real.parents:  # a cwd is only a cwd: never a new root
            raise PolicyError(f"cwd {cwd} is outside the workspace")
        if not real.is_dir():
            raise PolicyError(f"cwd {cwd} is not a directory")
        return str(real)

    def _env(
        self,
        cwd: str,
        extra: Mapping[str, str] | None,
        proxy_socket: Path | None,
        inherit: Mapping[str, str],
    ) -> dict[str, str]:
        env = {k: v for k, v in inherit.items() if k in self.policy.env_allow}
        env.setdefault("PATH", DEFAULT_PATH)
        env.update({"TMPDIR": "/tmp", "TMP": "/tmp", "TEMP": "/tmp", "PWD": cwd})
        env["LOCKGATE_SANDBOX"] = "1"
        # the home (and ~/.gitconfig in it) is hidden: the user's git identity comes along, so
        # `git commit` inside still works
        for key, value in _git_identity(inherit).items():
            env.setdefault(key, value)
        if self.policy.network == "proxy" and (proxy_socket or self.policy.proxy_socket):
            url = f"http://127.0.0.1:{self.policy.proxy_port}"
            for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
                env[name] = url
                env[name.lower()] = url
            env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
        if extra:
            env.update(extra)
        return env


_IDENTITY: dict[str, str] | None = None


def _git_identity(inherit: Mapping[str, str]) -> dict[str, str]:
    """GIT_AUTHOR_*/GIT_COMMITTER_* from the user's global git config (user.name and
    user.email only; read once). A variable the inherited environment already has wins."""
    global _IDENTITY
    if _IDENTITY is None:
        from sandbox.gitrefs import config_entries

        found: dict[str, str] = {}
        home = os.environ.get("HOME") or os.path.expanduser("~")
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        for path in (os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")):
            try:
                with open(path, "rb") as f:
                    text = f.read(1 << 20).decode("utf-8", errors="replace")
            except OSError:
                continue
            for section, key, value in config_entries(text):
                if section == "user" and key in ("name", "email") and value:
                    found[key] = value  # later files win, as in git
        _IDENTITY = {}
        for key, value in found.items():
            for who in ("AUTHOR", "COMMITTER"):
                _IDENTITY[f"GIT_{who}_{key.upper()}"] = value
    return {k: v for k, v in _IDENTITY.items() if k not in inherit}


class _Either(threading.Event):
    """The caller's cancel event, or a protected file replaced on the host (the watch is
    polled here, from the run's own wait loop)."""

    def __init__(self, other: threading.Event | None, watch: ReplaceWatch) -> None:
        super().__init__()
        self.other = other
        self.watch = watch

    def fileno(self) -> int:
        """Lets the run's wait loop wake on the watch's events (see client._drain)."""
        return self.watch.fileno()

    def is_set(self) -> bool:
        if self.watch.poll():
            return True
        return super().is_set() or (self.other is not None and self.other.is_set())


def _shown(path: str, workspace: Path) -> str:
    rel = os.path.relpath(path, workspace)
    return path if rel.startswith("..") else rel


if TYPE_CHECKING:  # a protocol for mypy only (no `typing` at run time)

    class _Backend(Protocol):
        """What a platform provides: run one command under the (checked) policy."""

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
        ) -> Completed: ...

        def close(self) -> None: ...

        def prewarm(self, prepared: Prepared) -> None: ...


__all__ = ["Sandbox", "SandboxStatus"]
