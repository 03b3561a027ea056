"""The Linux backend: the checked policy and one run's arguments, turned into a spare request
(plan + view) and a run message for that spare's init."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from sandbox.linux import limits, mounts, unix_sockets
from sandbox.linux.client import Zygote
from sandbox.linux.protocol import Plan, Run, View, spare_request
from sandbox.policy import Completed, SandboxError, SandboxPolicy
from sandbox.probe import REQUIRED_LANDLOCK_ABI, KernelSupport
from sandbox.visible import ReadSet, read_set
from sandbox.workspace import Prepared

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any, ClassVar


class LinuxBackend:
    # what forks the sandboxes: a zygote process (the one-shot CLI forks them itself)
    zygote_class: ClassVar[type[Zygote]] = Zygote

    def __init__(self, policy: SandboxPolicy) -> None:
        self.policy = policy
        self.zygote = self.zygote_class()
        self.zygote.start()
        self.landlock_abi = 0
        self.seccomp = False
        self.process_cap = limits.SUPERVISOR
        self.memory_cap = limits.RLIMIT_DATA
        self._plan_json: bytes | None = None
        self._identity: tuple[tuple[int, int], ...] = ()
        self._deny = tuple(str(d) for d in policy.deny_read)
        self._homes = tuple(str(h) for h in policy.homes or ())
        self._reads: ReadSet | None = None

    def zygote_probe(self) -> dict[str, Any]:
        return self.zygote.probe()

    def configure(self, kernel: KernelSupport) -> None:
        """Use every layer the kernel has; the Sandbox refuses beforehand if one is missing and
        the policy does not accept a degraded sandbox."""
        self.landlock_abi = kernel.landlock_abi if kernel.landlock_abi > 0 else 0
        if self.landlock_abi < REQUIRED_LANDLOCK_ABI and not self.policy.allow_degraded:
            self.landlock_abi = 0
        self.seccomp = kernel.seccomp == "ok" and kernel.arch_supported
        self.process_cap = kernel.process_cap or limits.SUPERVISOR
        self.memory_cap = kernel.memory_cap or limits.memory_mechanism()
        self._plan_json = None

    def close(self) -> None:
        self.zygote.close()

    def _plan(self) -> bytes:
        p = self.policy
        writable = self._writable()
        identity = tuple(_identity(w) for w in writable)
        # A writable tree replaced since the plan was made (rm -rf ws; mkdir ws) needs a new one,
        # and so does a change in a directory the read allow-list had to split.
        if self._reads is None or not self._reads.fresh():
            self._reads = self.reads()
            self._plan_json = None
        if self._plan_json is None or identity != self._identity:
            plan = Plan(
                writable=writable,
                identity=identity,
                private=self._private(),
                tmp_size=p.tmp_size,
                landlock_abi=self.landlock_abi,
                seccomp=self.seccomp,
                process_cap=self.process_cap,
                max_processes=p.max_processes,
                cpu_seconds=p.cpu_seconds,
                max_file_size=p.max_file_size,
                max_open_files=p.max_open_files,
                network=p.network,
                proxy_port=p.proxy_port,
                readable=tuple(str(r) for r in (*p.readable, *p.toolchains)),
                hidden=self._homes,
                read_rules=self._reads.rules,
                memory=p.memory,
                memory_cap=self.memory_cap,
                allow_sockets=tuple(str(a) for a in p.allow_unix_sockets),
                home_links=_home_links(self._homes),
            )
            self._plan_json = json.dumps(plan.to_json(), sort_keys=True).encode()
            self._identity = identity
        return self._plan_json

    def reads(self) -> ReadSet:
        """The read allow-list for this policy, as the file system is now."""
        p = self.policy
        return self._read_set(
            homes=self._homes,
            deny=self._deny,
            extra=(*(str(r) for r in p.readable), *(str(t) for t in p.toolchains)),
            views=self._private(),
            root_only=os.geteuid() == 0,
        )

    def _read_set(self, **kw: Any) -> ReadSet:
        """`visible.read_set`; the one-shot backend keeps it across processes (oneshot.py)."""
        return read_set(**kw)

    def _writable(self) -> tuple[str, ...]:
        return (str(self.policy.workspace), *(str(w) for w in self.policy.writable))

    def _private(self) -> tuple[str, ...]:
        p = self.policy
        return mounts.private_views(
            os.environ.get("XDG_RUNTIME_DIR"),
            None if p.private_views is None else [str(v) for v in p.private_views],
        )

    def _view(self, prepared: Prepared) -> bytes:
        """The per-run part of the mount view, stamped with the identity of every path it
        covers: a spare made for another stamp is not used."""
        stamp: list[tuple[str, int, int]] = []
        deny: list[str] = []
        # Host services' unix sockets outside the private views are covered like secrets.
        for path in (*self._deny, *unix_sockets.host_sockets(self._private(), self._writable())):
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    # a store that is a symlink (stow, chezmoi): hidden at its target, which
                    # is what a read would reach; a mount cannot sit on a symlink
                    path = os.path.realpath(path)
                    st = os.stat(path)
            except OSError:
                continue
            deny.append(path)
            stamp.append((path, st.st_dev, st.st_ino))
        for path in (*prepared.git_dirs, *prepared.read_only):
            try:
                st = os.lstat(path)
            except OSError:
                continue
            stamp.append((path, st.st_dev, st.st_ino))
        view = View(prepared.git_dirs, prepared.read_only, tuple(deny), tuple(stamp))
        return json.dumps(view.to_json(), sort_keys=True).encode()

    def prewarm(self, prepared: Prepared) -> None:
        """Have spares made for the file system as it is now (the next run's view)."""
        self.zygote.refill(spare_request(self._plan(), self._view(prepared)))

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
            raise SandboxError("network mode 'proxy' needs a proxy socket")
        out = self.zygote.run(
            spare_request(self._plan(), self._view(prepared)),
            Run(tuple(argv), env, cwd, script).encode(),
            timeout=timeout,
            stdin=stdin,
            max_output=max_output,
            on_output=on_output,
            cancel=cancel,
            proxy_socket=str(proxy_socket) if proxy_socket is not None else None,
        )
        if out.error:
            raise SandboxError(out.error)
        stderr = out.stderr.value()
        stderr_total = out.stderr.total
        if out.note:
            line = f"lockgate-sandbox: {out.note}\n".encode()
            stderr += line
            stderr_total += len(line)
        return Completed(
            exit_code=out.exit_code,
            stdout=out.stdout.value(),
            stderr=stderr,
            timed_out=out.timed_out,
            cancelled=out.cancelled,
            signal=out.signal,
            stdout_total=out.stdout.total,
            stderr_total=stderr_total,
        )


def _identity(path: str | Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SandboxError(f"writable tree {path} is gone: {exc.strerror}") from exc
    return (st.st_dev, st.st_ino)


def _home_links(homes: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Toolchain dirs in a home that are symlinks (or lie below one: `~/.local -> /data/l`),
    as (link, target): the empty home view gets the same link, so `~/.pyenv/shims` on PATH
    still leads to the (readable) toolchain."""
    from sandbox.policy import TOOLCHAIN_DIRS

    out: dict[str, str] = {}
    for home in homes:
        for rel in TOOLCHAIN_DIRS:
            parts = rel.split("/")
            for i in range(len(parts)):
                if "*" in parts[i]:
                    break
                path = os.path.join(home, *parts[: i + 1])
                if os.path.islink(path):
                    if os.path.exists(path):  # a dangling link shows nothing
                        with contextlib.suppress(OSError):
                            out[path] = os.readlink(path)
                    break
                if not os.path.isdir(path):
                    break
    return tuple(out.items())
