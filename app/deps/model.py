"""What a dependency check is about, and what a registry said."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Ecosystem = Literal["pypi", "npm", "crates", "go", "rubygems"]
ECOSYSTEMS: tuple[Ecosystem, ...] = ("pypi", "npm", "crates", "go", "rubygems")
REGISTRY_NAME: dict[str, str] = {
    "pypi": "PyPI",
    "npm": "npm",
    "crates": "crates.io",
    "go": "the Go module proxy",
    "rubygems": "RubyGems",
}


@dataclass(frozen=True)
class PackageRef:
    """One package an action would install or add."""

    ecosystem: Ecosystem
    name: str
    version: str | None = None  # an exact pin, if the action gave one
    origin: str = ""  # where it was named: "pip install", "requirements.txt" …
    index: str | None = None  # an index/registry the action itself names (never asked)


@dataclass(frozen=True)
class PackageInfo:
    """A registry's answer. `exists` False means the registry said 'no such package'."""

    ecosystem: Ecosystem
    name: str
    registry: str  # the index or registry URL that answered
    exists: bool
    first_release: datetime | None = None
    releases: int = 0
    maintainers: int | None = None
    status: str = ""  # quarantined / archived / deprecated (the registry's marker)
    status_reason: str = ""
    versions: tuple[str, ...] = ()
    yanked: dict[str, str] = field(default_factory=dict)  # version -> reason ('' if none)
    deprecated: dict[str, str] = field(default_factory=dict)  # version -> message
    private: bool = False  # answered by a private index the user configured


class RegistryError(Exception):
    """The registry could not be asked (offline, timeout, garbage): the check is inconclusive."""
