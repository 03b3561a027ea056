"""What a podman host offers the backend, layer by layer, with the fix for what it lacks.

`PodmanSupport` is a KernelSupport (the Sandbox refuses, and the console header shows the layers,
through the same interface), whose layers are podman's: the binary and its service, the runtime,
the image, and the cgroup controllers the pids and memory limits need.
"""

from __future__ import annotations

import os
from typing import Any

from sandbox.podman.cli import INSTALL_FIX, Podman, hybrid_cgroups
from sandbox.policy import SandboxError, SandboxUnavailable
from sandbox.probe import KernelSupport, Layer
from sandbox.records import asdict, record

DEFAULT_IMAGE = "localhost/lockgate-host:latest"
IMAGE_FIX = "build one with `lockgate sandbox image build`, or pass --image REF / --rootfs DIR"


@record
class PodmanSupport(KernelSupport):
    podman_version: str = ""
    podman_error: str = ""
    rootless: bool = False
    remote: bool = False
    cgroup_version: str = ""
    cgroup_controllers: tuple[str, ...] = ()
    runtime: str = ""
    image: str = ""
    image_ok: bool = False
    image_detail: str = ""

    def layers(self) -> tuple[Layer, ...]:
        limits_ok = {"pids", "memory"} <= set(self.cgroup_controllers)
        limits_detail = f"cgroup {self.cgroup_version}: " + (
            ", ".join(self.cgroup_controllers) or "none"
        )
        if self.rootless and self.cgroup_version == "v1":
            # podman ignores --pids-limit and --memory here; the backend caps processes with
            # RLIMIT_NPROC (counted in the container's user namespace) and memory with
            # RLIMIT_DATA per process instead
            limits_ok = True
            limits_detail = (
                "RLIMIT_NPROC in the container's user namespace, RLIMIT_DATA per process "
                "(rootless on cgroup v1: podman ignores the pids and memory cgroups)"
            )
        where = "remote" if self.remote else ("rootless" if self.rootless else "rootful")
        return (
            Layer(
                "podman",
                bool(self.podman_version),
                f"{self.podman_version} ({where})" if self.podman_version else self.podman_error,
            ),
            Layer("image", self.image_ok, self.image_detail or self.image),
            Layer("seccomp", self.seccomp == "ok", self.seccomp),
            Layer("process cap", limits_ok, limits_detail, degradable=True),
        )

    def refusal(self, allow_degraded: bool = False) -> str:
        blocking = [m for m in self.missing() if not (m.degradable and allow_degraded)]
        if not blocking:
            return ""
        fixes = {
            "podman": INSTALL_FIX,
            "image": IMAGE_FIX,
            "seccomp": "use a podman built with seccomp support",
            "process cap": "run podman rootful, or on a cgroup v2 host with the pids and memory "
            "controllers delegated; or accept it with --allow-degraded",
        }
        return "sandbox unavailable (podman backend): " + "; ".join(
            f"{m.name}: {m.detail} — {fixes[m.name]}" for m in blocking
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = [asdict(layer) for layer in self.layers()]
        data["can_run"] = self.can_run()
        data["can_run_degraded"] = self.can_run(allow_degraded=True)
        return data


_PROBED: dict[tuple[Podman, str | None, str | None], PodmanSupport] = {}


def probe_podman(
    podman: Podman, image: str | None, rootfs: str | None, *, fresh: bool = False
) -> PodmanSupport:
    """Ask podman (`podman info`, the image); never raises for a missing piece: the layers say
    what is missing and `refusal()` how to get it. A host that can run is remembered for the
    process (`podman info` costs ~0.5 s; a session probes once, a test run once per image);
    what cannot run is asked again every time."""
    key = (podman, image, rootfs)
    if not fresh and key in _PROBED:
        return _PROBED[key]
    found = _probe(podman, image, rootfs)
    if found.can_run(allow_degraded=True):
        _PROBED[key] = found
    return found


def _probe(podman: Podman, image: str | None, rootfs: str | None) -> PodmanSupport:
    try:
        info = podman.info()
    except (SandboxError, SandboxUnavailable, ValueError) as e:
        return PodmanSupport(
            platform="podman", podman_error=str(e), image=image or rootfs or DEFAULT_IMAGE
        )
    host = info.get("host") or {}
    security = host.get("security") or {}
    version = str((info.get("version") or {}).get("Version") or "")
    rootless = bool(security.get("rootless"))
    cgroup_version = str(host.get("cgroupVersion") or "")
    controllers = tuple(str(c) for c in host.get("cgroupControllers") or ())
    seccomp = "ok" if security.get("seccompEnabled") else "podman reports seccomp disabled"
    runtime = str((host.get("ociRuntime") or {}).get("name") or "")
    if podman.runtime:
        runtime = podman.runtime
    if rootfs:
        ok = os.path.isdir(rootfs) and os.path.exists(os.path.join(rootfs, "bin", "sh"))
        shown = rootfs
        detail = f"rootfs {rootfs}" + ("" if ok else " (no directory with /bin/sh)")
    else:
        shown = image or DEFAULT_IMAGE
        ok = podman.image_exists(shown)
        detail = shown if ok else f"{shown} is not a local image"
    return PodmanSupport(
        platform="podman",
        arch=str(host.get("arch") or ""),
        arch_supported=True,
        uid=os.getuid(),
        seccomp=seccomp,
        process_cap=(
            "RLIMIT_NPROC (user namespace)"
            if rootless and cgroup_version == "v1"
            else ("pids cgroup" if "pids" in controllers else "")
        ),
        podman_version=version,
        rootless=rootless,
        remote=podman.remote,
        cgroup_version=cgroup_version,
        cgroup_controllers=controllers,
        runtime=runtime + (" (hybrid cgroups)" if hybrid_cgroups() and not podman.remote else ""),
        image=shown,
        image_ok=ok,
        image_detail=detail,
    )
