"""The Linux backend: turns the checked policy plus one run's arguments into a zygote request."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.linux import limits, mounts
from sandbox.linux.client import Zygote
from sandbox.linux.protocol import Plan, Run, encode_run
from sandbox.policy import Completed, SandboxError, SandboxPolicy
from sandbox.probe import REQUIRED_LANDLOCK_ABI, KernelSupport
from sandbox.workspace import Prepared


class LinuxBackend:
    def __init__(self, policy: SandboxPolicy) -> None:
        self.policy = policy
        self.zygote = Zygote()
        self.zygote.start()
        self.landlock_abi = 0
        self.seccomp = False
        self.process_cap = limits.SUPERVISOR
        self._plan_json: bytes | None = None
        self._identity: tuple[tuple[int, int], ...] = ()
        self._deny = tuple(str(d) for d in policy.deny_read)

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
        self._plan_json = None

    def close(self) -> None:
        self.zygote.close()

    def _plan(self) -> bytes:
        if self._plan_json is None:
            p = self.policy
            writable = (str(p.workspace), *(str(w) for w in p.writable))
            plan = Plan(
                writable=writable,
                identity=tuple(_identity(w) for w in writable),
                private=mounts.private_views(
                    os.environ.get("XDG_RUNTIME_DIR"),
                    None if p.private_views is None else [str(v) for v in p.private_views],
                ),
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
            )
            self._plan_json = json.dumps(plan.to_json(), sort_keys=True).encode()
            self._identity = plan.identity
        # A writable tree replaced since the plan was made (rm -rf ws; mkdir ws) needs a new one.
        if tuple(_identity(w) for w in (self.policy.workspace, *self.policy.writable)) != (
            self._identity
        ):
            self._plan_json = None
            return self._plan()
        return self._plan_json

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
    ) -> Completed:
        p = self.policy
        if p.network == "proxy" and proxy_socket is None:
            raise SandboxError("network mode 'proxy' needs a proxy socket")
        run = Run(
            argv=tuple(argv),
            env=env,
            cwd=cwd,
            timeout=timeout,
            git_dirs=prepared.git_dirs,
            read_only=prepared.read_only,
            deny=self._deny,
            proxy_socket=str(proxy_socket) if proxy_socket else None,
        )
        outcome = self.zygote.run(
            encode_run(self._plan(), run),
            timeout=timeout,
            stdin=stdin,
            max_output=max_output,
            on_output=on_output,
            cancel=cancel,
        )
        rep = outcome.report
        if rep.error:
            raise SandboxError(rep.error)
        stderr = outcome.stderr.value()
        stderr_total = outcome.stderr.total
        if rep.note:
            line = f"lockgate-sandbox: {rep.note}\n".encode()
            stderr += line
            stderr_total += len(line)
        return Completed(
            exit_code=rep.exit_code,
            stdout=outcome.stdout.value(),
            stderr=stderr,
            timed_out=rep.timed_out,
            cancelled=rep.cancelled,
            signal=rep.signal,
            stdout_total=outcome.stdout.total,
            stderr_total=stderr_total,
        )


def _identity(path: str | Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SandboxError(f"writable tree {path} is gone: {exc.strerror}") from exc
    return (st.st_dev, st.st_ino)
