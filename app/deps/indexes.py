"""Where the user's tools really install from, so a private package's name never goes to a public
registry: pip's `index-url` / `extra-index-url` (pip.conf files and PIP_* variables), npm's
`registry` and `@scope:registry` (the user's ~/.npmrc, npm_config_registry), and lockgate's own `[deps] registries = { pypi = "…", npm = "…" }`
(a mirror to ask instead of the public registry)."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.deps.model import ECOSYSTEMS, Ecosystem
from app.deps.registries import PUBLIC

_PUBLIC_PYPI_HOSTS = ("pypi.org/simple", "pypi.python.org/simple", "files.pythonhosted.org")
_PUBLIC_NPM = ("registry.npmjs.org", "registry.yarnpkg.com")


@dataclass(frozen=True)
class Plan:
    """Whom to ask, in order, about one package. `public` is asked only if no private index
    knows the name and the user's tools would fall back to it."""

    private: tuple[str, ...]
    public: str | None


@dataclass(frozen=True)
class Indexes:
    registries: Mapping[str, str] = field(default_factory=dict)  # ecosystem -> public base
    pip_index: str | None = None  # replaces PyPI for pip when set and not PyPI itself
    pip_extra: tuple[str, ...] = ()
    npm_registry: str | None = None
    npm_scopes: Mapping[str, str] = field(default_factory=dict)  # "@corp" -> registry

    def plan(self, ecosystem: Ecosystem, name: str) -> Plan:
        public = self.registries.get(ecosystem, PUBLIC[ecosystem])
        if ecosystem == "pypi":
            if self.pip_index and not _is_public_pypi(self.pip_index):
                return Plan((self.pip_index, *self.pip_extra), None)
            return Plan(self.pip_extra, public)
        if ecosystem == "npm":
            if name.startswith("@"):
                scoped = self.npm_scopes.get(name.split("/", 1)[0])
                if scoped:
                    return Plan((scoped,), None)
            if self.npm_registry and not any(h in self.npm_registry for h in _PUBLIC_NPM):
                return Plan((self.npm_registry,), None)
            return Plan((), public)
        return Plan((), public)


def _is_public_pypi(url: str) -> bool:
    return any(h in url for h in _PUBLIC_PYPI_HOSTS)


def _pip_files(env: Mapping[str, str], home: Path) -> list[Path]:
    files = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf")]
    files += [home / ".pip" / "pip.conf", home / ".config" / "pip" / "pip.conf"]
    if env.get("VIRTUAL_ENV"):
        files.append(Path(env["VIRTUAL_ENV"]) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def _read_pip(env: Mapping[str, str], home: Path) -> tuple[str | None, tuple[str, ...]]:
    index: str | None = None
    extra: list[str] = []
    for path in _pip_files(env, home):
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install", "download"):
            if not cp.has_section(section):
                continue
            if cp.has_option(section, "index-url"):
                index = cp.get(section, "index-url").strip() or index
            if cp.has_option(section, "extra-index-url"):
                extra = cp.get(section, "extra-index-url").split()
    if env.get("PIP_INDEX_URL"):
        index = env["PIP_INDEX_URL"].strip()
    if env.get("PIP_EXTRA_INDEX_URL"):
        extra = env["PIP_EXTRA_INDEX_URL"].split()
    return index, tuple(extra)


def _read_npmrc(paths: list[Path], env: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
    registry: str | None = None
    scopes: dict[str, str] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")) or "=" not in line:
                continue
            key, _, value = (p.strip() for p in line.partition("="))
            if key == "registry":
                registry = value
            elif key.startswith("@") and key.endswith(":registry"):
                scopes[key[: -len(":registry")]] = value
    if env.get("npm_config_registry"):
        registry = env["npm_config_registry"]
    return registry, scopes


def discover(
    workspace: Path,
    config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Indexes:
    env = os.environ if env is None else env
    home = home or Path(env.get("HOME") or Path.home())
    cfg = dict(config or {})
    regs = cfg.get("registries", {})
    if not isinstance(regs, dict) or not all(isinstance(v, str) for v in regs.values()):
        raise ValueError("[deps] registries: expected a table of ecosystem = URL")
    unknown = set(regs) - set(ECOSYSTEMS)
    if unknown:
        raise ValueError(f"[deps] registries: unknown ecosystem {sorted(unknown)[0]!r}")
    pip_index, pip_extra = _read_pip(env, home)
    # Not the workspace's .npmrc: the agent writes there, and lockgate's lookups run outside the
    # sandbox — a planted registry would make the console fetch from any host the agent names.
    npm_registry, scopes = _read_npmrc([home / ".npmrc"], env)
    return Indexes(dict(regs), pip_index, pip_extra, npm_registry, scopes)
