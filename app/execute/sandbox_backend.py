"""Which backend holds the session's sandbox: `[sandbox] backend = "podman"` (with `image`,
`rootfs`, `podman_connection`) in the user config, overridden by `--sandbox-backend`, `--image`,
`--rootfs` and `--podman-connection` on the command line (app/cli/sandbox_backend_options.py).

The command-line choice is kept here for the one command this process runs, so the command
modules only add the options and the policy is completed where it is made (sandbox_config).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from app.core.config import ConfigError
from sandbox import SandboxPolicy
from sandbox.policy import ContainerSpec

KEYS = frozenset({"backend", "image", "rootfs", "podman_connection"})
BACKENDS = ("linux", "podman")

# set by the command-line options' callbacks (one command per process)
_cli: dict[str, str] = {}


def set_from_cli(key: str, value: str | None) -> None:
    if value:
        _cli[key] = value


def cli_args() -> tuple[str, ...]:
    """The same choice as `lockgate sandbox run` options (serve hands them on)."""
    flags = {"backend": "--sandbox-backend", "image": "--image", "rootfs": "--rootfs",
             "podman_connection": "--podman-connection"}  # fmt: skip
    out: list[str] = []
    for key, flag in flags.items():
        if key in _cli:
            value = _cli[key]
            if key == "rootfs":
                value = str(Path(value).resolve())
            out += [flag, value]
    return tuple(out)


def _text(section: Mapping[str, Any], key: str) -> str | None:
    value = _cli.get(key, section.get(key))
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"[sandbox] {key} must be a non-empty string")
    return value.strip()


def apply(policy: SandboxPolicy, section: Mapping[str, Any] | None = None) -> SandboxPolicy:
    """The policy with the backend the config and the command line chose (the command line
    wins); unchanged when neither chose one."""
    section = section or {}
    backend = _text(section, "backend") or policy.backend
    if backend not in BACKENDS:
        raise ConfigError(f"sandbox backend {backend!r}: use linux or podman")
    image = _text(section, "image")
    rootfs = _text(section, "rootfs")
    connection = _text(section, "podman_connection")
    if image and rootfs:
        raise ConfigError("sandbox: --image and --rootfs exclude each other")
    if (image or rootfs or connection) and backend != "podman":
        raise ConfigError(
            "sandbox: --image, --rootfs and --podman-connection need the podman backend"
        )
    root = Path(rootfs).expanduser() if rootfs else None
    if root is not None and not root.is_dir():
        raise ConfigError(f"sandbox: rootfs {rootfs}: not a directory")
    spec = ContainerSpec(
        image=image, rootfs=root.resolve() if root else None, connection=connection
    )
    return dataclasses.replace(
        policy,
        backend=cast(Any, backend),
        container=spec if backend == "podman" else ContainerSpec(),
    )
