"""The podman command line as the backend calls it: which binary, which runtime, which host.

Every call goes through `Podman.argv()`, so a `--connection NAME` (podman's system connections,
ssh) or `--url unix://…` (another podman service) applies to all of them alike.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import IO, Any

from sandbox.policy import SandboxError, SandboxUnavailable

INSTALL_FIX = "install podman (Debian/Ubuntu: apt-get install podman runc)"


@dataclass(frozen=True)
class Podman:
    binary: str = "podman"
    connection: str | None = None  # `podman --connection NAME`
    url: str | None = None  # `podman --url unix:///…` (a service socket)
    runtime: str | None = None  # `--runtime runc` (crun refuses hybrid cgroup hosts)
    # podman's working directory: conmon writes files there (an `oom` file when a container's
    # process was OOM-killed), so a backend gives its own private directory, never the
    # caller's current one
    cwd: str | None = None

    @property
    def remote(self) -> bool:
        return bool(self.connection or self.url)

    def argv(self, *args: str) -> list[str]:
        out = [self.binary]
        if self.connection:
            out += ["--connection", self.connection]
        if self.url:
            out += ["--url", self.url]
        if self.runtime and not self.remote:
            out += ["--runtime", self.runtime]
        return out + list(args)

    def call(
        self,
        *args: str,
        timeout: float = 120.0,
        check: bool = True,
        input: bytes | None = None,
        stdin: IO[bytes] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """`stdin`: a file to read from (a tar of any size, not held in memory)."""
        try:
            r = subprocess.run(
                self.argv(*args),
                capture_output=True,
                cwd=self.cwd,
                timeout=timeout,
                input=input,
                stdin=stdin
                if stdin is not None
                else (None if input is not None else subprocess.DEVNULL),
            )
        except FileNotFoundError as e:
            raise SandboxUnavailable(
                f"podman backend: {self.binary} not found — {INSTALL_FIX}"
            ) from e
        except subprocess.TimeoutExpired as e:
            raise SandboxError(f"podman {args[0]} did not answer within {timeout:.0f} s") from e
        if check and r.returncode != 0:
            raise SandboxError(f"podman {args[0]} failed: {_last_line(r.stderr)}")
        return r

    def info(self) -> dict[str, Any]:
        r = self.call("info", "--format", "json", timeout=60)
        data = json.loads(r.stdout or b"{}")
        return data if isinstance(data, dict) else {}

    def image_exists(self, ref: str) -> bool:
        return self.call("image", "exists", ref, check=False, timeout=60).returncode == 0

    def image_label(self, ref: str, label: str) -> str:
        r = self.call("image", "inspect", "--format", "json", ref, timeout=60)
        data = json.loads(r.stdout or b"[]")
        labels = (data[0].get("Labels") if data else None) or {}
        return str(labels.get(label) or "")


def _last_line(raw: bytes) -> str:
    lines = [ln for ln in raw.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else "no message"


def hybrid_cgroups() -> bool:
    """cgroup v1 controllers with a v2 hierarchy beside them (/sys/fs/cgroup/unified): crun
    refuses such hosts ("cgroups in hybrid mode not supported"), runc runs there."""
    return os.path.isdir("/sys/fs/cgroup/unified") and not os.path.exists(
        "/sys/fs/cgroup/cgroup.controllers"
    )


def default_runtime() -> str | None:
    """LOCKGATE_PODMAN_RUNTIME, else runc on a hybrid-cgroup host when installed, else podman's
    own choice."""
    chosen = os.environ.get("LOCKGATE_PODMAN_RUNTIME")
    if chosen:
        return chosen
    if hybrid_cgroups() and shutil.which("runc"):
        return "runc"
    return None


def podman_for(connection: str | None = None, url: str | None = None) -> Podman:
    binary = os.environ.get("LOCKGATE_PODMAN", "podman")
    if connection and connection.startswith(("unix://", "ssh://", "tcp://")):
        url, connection = connection, None
    return Podman(
        binary=binary,
        connection=connection,
        url=url,
        runtime=None if (connection or url) else default_runtime(),
    )
