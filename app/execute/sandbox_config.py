"""The `[sandbox]` section of the user config → the session's SandboxPolicy.

Only the user's own config may widen or narrow the sandbox; a project's `.lockgate.toml` and the
agent never can (writable roots and hidden paths are the session's choice).

    [sandbox]
    hide = ["~/work/secrets", "~/.config/some-cli"]   # unreadable inside, on top of the defaults
    writable = ["~/.cache/pip"]                        # extra writable roots
    readable = ["~/.cache/go-build"]                   # extra read-only roots (the home is
                                                       # hidden but for its toolchain dirs)
    memory = "4G"                                      # memory cap per command ("off": none;
                                                       # default: half the machine's memory)
    allow_unix_sockets = ["~/proj/.devenv/pg.sock"]    # sockets in the workspace a command may
                                                       # reach (all others there are covered)
    backend = "podman"                                 # run commands in a podman container
    image = "localhost/lockgate-host:latest"           # (podman) image, or rootfs = "/srv/root"
    podman_connection = "build-box"                    # (podman) a podman system connection
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from app.core.config import ConfigError
from sandbox import SandboxPolicy
from sandbox.policy import default_deny_read, default_memory, default_readable


def _paths(section: Mapping[str, Any], key: str) -> tuple[Path, ...]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"[sandbox] {key} must be a list of paths")
    out: list[Path] = []
    for v in value:
        p = Path(v).expanduser()
        if not p.is_absolute():
            raise ConfigError(f"[sandbox] {key}: {v!r} must be absolute (or start with ~)")
        out.append(p)
    return tuple(out)


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _memory(value: Any) -> int | None:
    """ "4G", "512M", "1.5G", a number of bytes, or "off" (no cap)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip().upper().removesuffix("B").removesuffix("I")
        if text in ("OFF", "NONE"):
            return None
        unit = text[-1:] if text[-1:] in _UNITS else ""
        number = text[: len(text) - len(unit)].strip()
        try:
            amount = float(number)
        except ValueError:
            amount = -1.0
        if amount > 0:
            return int(amount * _UNITS[unit])
    raise ConfigError(f'[sandbox] memory must be a size like "4G" or "512M", or "off": {value!r}')


def sandbox_policy(
    section: Mapping[str, Any],
    *,
    workspace: Path,
    network: Literal["off", "proxy"],
    allow_degraded: bool,
) -> SandboxPolicy:
    from app.execute import sandbox_backend

    known = {"hide", "writable", "readable", "memory", "allow_unix_sockets", *sandbox_backend.KEYS}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"[sandbox] unknown setting(s): {', '.join(unknown)}")
    writable = tuple(p for p in _paths(section, "writable") if p.is_dir())
    policy = SandboxPolicy(
        workspace=workspace,
        writable=writable,
        network=network,
        deny_read=(*default_deny_read(), *_paths(section, "hide")),
        readable=(*default_readable(), *_paths(section, "readable")),
        memory=_memory(section["memory"]) if "memory" in section else default_memory(),
        allow_unix_sockets=_paths(section, "allow_unix_sockets"),
        allow_degraded=allow_degraded,
    )
    # the backend: the config's choice, or the command line's (--sandbox-backend, --image …)
    return sandbox_backend.apply(policy, section)
