"""Where lockgate keeps things, and the user's own config file.

The user config (TOML) holds sections owned by different parts: [policy], [keys], [theme],
[network], [sandbox]. Each part reads its own section; this module only loads and saves the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.dirs import APP_NAME, config_dir, data_dir

# `config_dir`, `data_dir` and `APP_NAME` live in app.core.dirs (the one-shot commands' cold path
# needs them without this module); they are exported here too, where most callers look for them.
# tomllib and tomli_w are imported where a file is read or written (~5 ms to import).
__all__ = [
    "APP_NAME",
    "PROJECT_CONFIG_NAME",
    "ConfigError",
    "UserConfig",
    "config_dir",
    "data_dir",
    "load_user_config",
    "read_toml",
    "update_user_config",
    "user_config_path",
]

PROJECT_CONFIG_NAME = ".lockgate.toml"


class ConfigError(Exception):
    """A config file that cannot be read; the message names the file and the problem."""


def user_config_path() -> Path:
    return config_dir() / "config.toml"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({exc.reason})") from None
    import tomllib  # only with a file to read (~3 ms)

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


@dataclass(frozen=True)
class UserConfig:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.path}: [{name}] must be a table")
        return value


def load_user_config(path: Path | None = None) -> UserConfig:
    p = path or user_config_path()
    return UserConfig(path=p, data=read_toml(p))


def update_user_config(section: str, values: dict[str, Any], path: Path | None = None) -> None:
    """Merge `values` into one section and write the file atomically (temp file + rename)."""
    p = path or user_config_path()
    data = read_toml(p)
    current = data.get(section, {})
    if not isinstance(current, dict):
        raise ConfigError(f"{p}: [{section}] must be a table")
    current.update(values)
    data[section] = current
    import tomli_w

    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("wb") as fh:
        tomli_w.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)
