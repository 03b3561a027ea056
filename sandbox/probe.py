"""What the kernel (or macOS) gives the sandbox, layer by layer, and whether it can run."""

from __future__ import annotations

import os
import sys

from sandbox.records import asdict, field_names, record

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any

REQUIRED_LANDLOCK_ABI = 6

FIX = {
    "user": (
        "enable unprivileged user namespaces (sysctl user.max_user_namespaces=15000; "
        "kernel.unprivileged_userns_clone=1 on Debian; "
        "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04+)"
    ),
    "namespaces": "use a kernel built with CONFIG_USER_NS, CONFIG_PID_NS, CONFIG_NET_NS, "
    "CONFIG_IPC_NS and CONFIG_UTS_NS (every mainstream distribution kernel is)",
    "mount_api": "use Linux 5.12 or newer (open_tree, move_mount, mount_setattr)",
    "proc": "run outside containers that mask /proc, or give the container a full /proc",
    "landlock": "use Linux 6.12 or newer with Landlock enabled "
    "(CONFIG_SECURITY_LANDLOCK=y and 'landlock' in the lsm= boot parameter)",
    "seccomp": "use a kernel built with CONFIG_SECCOMP_FILTER on x86_64 or aarch64",
}


@record
class Layer:
    name: str
    ok: bool
    detail: str
    required: bool = True
    degradable: bool = False  # may be skipped with allow_degraded


@record
class KernelSupport:
    platform: str
    arch: str = ""
    arch_supported: bool = False
    uid: int = -1
    user: str = "not probed"
    mount: str = "not probed"
    pid: str = "not probed"
    net: str = "not probed"
    ipc: str = "not probed"
    uts: str = "not probed"
    mount_api: str = "not probed"
    proc: str = "not probed"
    landlock_abi: int = 0
    seccomp: str = "not probed"
    process_cap: str = ""
    memory_cap: str = ""  # "memory-cgroup" or "rlimit-data"
    seatbelt: bool = False  # macOS: /usr/bin/sandbox-exec present

    @classmethod
    def from_probe(cls, data: dict[str, Any]) -> KernelSupport:
        known = set(field_names(cls))
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("platform", "linux")
        return cls(**values)

    def layers(self) -> tuple[Layer, ...]:
        if self.platform == "darwin":
            return (Layer("seatbelt", self.seatbelt, "/usr/bin/sandbox-exec"),)
        out = [Layer(f"{name} namespace", getattr(self, name) == "ok", getattr(self, name))
               for name in ("user", "mount", "pid", "net", "ipc", "uts")]  # fmt: skip
        out.append(Layer("mount API", self.mount_api == "ok", self.mount_api))
        out.append(Layer("fresh /proc", self.proc == "ok", self.proc))
        abi_ok = self.landlock_abi >= REQUIRED_LANDLOCK_ABI
        out.append(
            Layer(
                "landlock",
                abi_ok,
                f"ABI {self.landlock_abi}"
                + ("" if abi_ok else f" (need ≥ {REQUIRED_LANDLOCK_ABI})")
                if self.landlock_abi
                else "missing",
                degradable=True,
            )
        )
        seccomp_ok = self.seccomp == "ok" and self.arch_supported
        detail = self.seccomp if self.arch_supported else f"no syscall table for {self.arch}"
        out.append(Layer("seccomp", seccomp_ok, detail, degradable=True))
        out.append(
            Layer("process cap", bool(self.process_cap), self.process_cap or "none", required=False)
        )
        return tuple(out)

    def missing(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers() if layer.required and not layer.ok)

    def can_run(self, allow_degraded: bool = False) -> bool:
        return all(layer.degradable and allow_degraded for layer in self.missing())

    def refusal(self, allow_degraded: bool = False) -> str:
        """One line: what is missing and how to get it; empty when the sandbox can run."""
        blocking = [m for m in self.missing() if not (m.degradable and allow_degraded)]
        if not blocking:
            return ""
        parts = []
        for layer in blocking:
            key = layer.name.split()[0]
            if key in ("mount", "pid", "net", "ipc", "uts"):
                key = "namespaces"
            if layer.name == "mount API":
                key = "mount_api"
            if layer.name == "fresh /proc":
                key = "proc"
            parts.append(f"{layer.name}: {layer.detail} — {FIX.get(key, '')}".rstrip(" —"))
        hint = ""
        if all(m.degradable for m in blocking):
            hint = "; or accept a weaker sandbox with --allow-degraded"
        return "sandbox unavailable: " + "; ".join(parts) + hint

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = [asdict(layer) for layer in self.layers()]
        data["can_run"] = self.can_run()
        data["can_run_degraded"] = self.can_run(allow_degraded=True)
        return data


def probe() -> KernelSupport:
    """Ask the platform. On Linux this starts a short-lived zygote (so the probing fork happens
    in a single-threaded process) and asks it to try every layer."""
    if sys.platform == "darwin":
        return KernelSupport(platform="darwin", seatbelt=os.path.exists("/usr/bin/sandbox-exec"))
    if not sys.platform.startswith("linux"):
        return KernelSupport(platform=sys.platform)
    from sandbox.linux.client import Zygote

    with Zygote() as zygote:
        return KernelSupport.from_probe(zygote.probe())
