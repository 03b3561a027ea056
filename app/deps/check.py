"""The dependency check: skip the popular names, look the rest up (private indexes first), cache
the answers, and turn them into findings the risk engine's way (score, category, plain reason)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.model import Category, Finding
from app.deps.indexes import Indexes
from app.deps.model import REGISTRY_NAME, PackageInfo, PackageRef, RegistryError
from app.deps.registries import ask

FOUND_TTL = 24 * 3600.0
MISSING_TTL = 3600.0
DEFAULT_TIMEOUT = 1.8  # the budget is < 2 s for the whole lookup

CRITICAL, HIGH, MEDIUM, NOTE = 95, 70, 45, 0


@dataclass(frozen=True)
class Outcome:
    ref: PackageRef
    info: PackageInfo | None
    findings: tuple[Finding, ...]
    error: str = ""  # why the registry could not be asked
    cached: bool = False

    @property
    def score(self) -> int:
        return max((f.score for f in self.findings), default=0)


def _finding(score: int, reason: str) -> Finding:
    return Finding(Category.SUPPLY_CHAIN, score, reason)


def _days(d: datetime, now: datetime) -> int:
    return max(0, (now - d).days)


def judge(ref: PackageRef, info: PackageInfo, now: datetime) -> tuple[Finding, ...]:
    """The issue's table: missing / quarantined → critical, < 30 days → high, < 5 releases and
    < 90 days → medium, deprecated or a yanked pin → medium with the registry's words."""
    reg = "your private index" if info.private else REGISTRY_NAME[ref.ecosystem]
    what = f"{ref.name}" + (f" {ref.version}" if ref.version else "")
    out: list[Finding] = []
    if not info.exists:
        if info.private:
            return (_finding(MEDIUM, f"no package named {ref.name} on your configured index"),)
        return (
            _finding(
                CRITICAL,
                f"no package named {ref.name} on {reg}: anyone can register it — an install "
                "would run their code",
            ),
        )
    if info.status == "quarantined":
        why = f": {info.status_reason}" if info.status_reason else ""
        out.append(_finding(CRITICAL, f"{ref.name} is quarantined on {reg}{why}"))
    elif info.status == "unpublished":
        out.append(
            _finding(
                CRITICAL,
                f"{ref.name} was unpublished from {reg}: its name can be taken by anyone",
            )
        )
    elif info.status in ("deprecated", "archived"):
        why = f": {info.status_reason}" if info.status_reason else ""
        out.append(_finding(MEDIUM, f"{ref.name} is {info.status} on {reg}{why}"))
    if info.first_release is not None:
        age = _days(info.first_release, now)
        if age < 30:
            out.append(
                _finding(
                    HIGH,
                    f"{ref.name} first appeared on {reg} {age} day{'s' if age != 1 else ''} ago "
                    f"({info.releases} release{'s' if info.releases != 1 else ''})",
                )
            )
        elif info.releases < 5 and age < 90:
            out.append(
                _finding(
                    MEDIUM,
                    f"{ref.name} is young: {info.releases} release"
                    f"{'s' if info.releases != 1 else ''} in {age} days on {reg}",
                )
            )
    if ref.version and info.versions and ref.version not in info.versions:
        out.append(_finding(HIGH, f"{what} does not exist on {reg}"))
    if ref.version and ref.version in info.yanked:
        why = info.yanked[ref.version]
        out.append(_finding(MEDIUM, f"{what} was yanked on {reg}" + (f": {why}" if why else "")))
    if ref.version and ref.version in info.deprecated:
        out.append(
            _finding(MEDIUM, f"{what} is deprecated on {reg}: {info.deprecated[ref.version]}")
        )
    if not out:
        since = f"since {info.first_release:%Y-%m-%d}, " if info.first_release is not None else ""
        out.append(_finding(NOTE, f"{reg}: {ref.name} exists ({since}{info.releases} releases)"))
    return tuple(out)


def _to_json(info: PackageInfo) -> dict[str, Any]:
    return {
        "ecosystem": info.ecosystem,
        "name": info.name,
        "registry": info.registry,
        "exists": info.exists,
        "first_release": info.first_release.isoformat() if info.first_release else None,
        "releases": info.releases,
        "maintainers": info.maintainers,
        "status": info.status,
        "status_reason": info.status_reason,
        "versions": list(info.versions),
        "yanked": info.yanked,
        "deprecated": info.deprecated,
        "private": info.private,
    }


def _from_json(d: dict[str, Any]) -> PackageInfo:
    first = d.get("first_release")
    return PackageInfo(
        ecosystem=d["ecosystem"],
        name=d["name"],
        registry=d["registry"],
        exists=bool(d["exists"]),
        first_release=datetime.fromisoformat(first) if first else None,
        releases=int(d.get("releases", 0)),
        maintainers=d.get("maintainers"),
        status=str(d.get("status", "")),
        status_reason=str(d.get("status_reason", "")),
        versions=tuple(d.get("versions", ())),
        yanked=dict(d.get("yanked", {})),
        deprecated=dict(d.get("deprecated", {})),
        private=bool(d.get("private", False)),
    )


class Cache:
    """One small JSON file per (ecosystem, index, name) in the data dir; 24 h for packages that
    exist, 1 h for names that do not (someone may register one)."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.clock = clock

    def _path(self, ref: PackageRef, base: str) -> Path:
        key = hashlib.sha256(f"{base}\0{ref.name.lower()}".encode()).hexdigest()[:32]
        return self.root / ref.ecosystem / f"{key}.json"

    def get(self, ref: PackageRef, base: str) -> PackageInfo | None:
        path = self._path(ref, base)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            info = _from_json(d["info"])
            age = self.clock() - float(d["at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        ttl = FOUND_TTL if info.exists else MISSING_TTL
        return info if 0 <= age < ttl else None

    def put(self, ref: PackageRef, base: str, info: PackageInfo) -> None:
        path = self._path(ref, base)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"at": self.clock(), "info": _to_json(info)}))
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a lookup next time


def _is_popular(ref: PackageRef) -> bool:
    if ref.ecosystem not in ("pypi", "npm", "crates"):
        return False
    from app.risk.typosquat import popular

    return ref.name in popular(ref.ecosystem)


class DepsChecker:
    def __init__(
        self,
        indexes: Indexes,
        cache: Cache | None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        skip_popular: bool = True,
        offline: bool = False,
    ) -> None:
        self.indexes = indexes
        self.cache = cache
        self.timeout = timeout
        self.now = now
        self.skip_popular = skip_popular
        self.offline = offline  # LOCKGATE_OFFLINE: no lookups; every unknown name is inconclusive

    def needs_lookup(self, ref: PackageRef) -> bool:
        return not (self.skip_popular and ref.index is None and _is_popular(ref))

    def cached(self, ref: PackageRef) -> Outcome | None:
        """The answer without any network, or None if a lookup is needed."""
        if ref.index is not None:
            return self._named_index(ref)
        if self.cache is None:
            return None
        plan = self.indexes.plan(ref.ecosystem, ref.name)
        for base in plan.private:
            info = self.cache.get(ref, base)
            if info is None:
                return None
            if info.exists:
                return Outcome(ref, info, judge(ref, info, self.now()), cached=True)
        if plan.public is None:
            last = plan.private[-1] if plan.private else ""
            info = self.cache.get(ref, last) if last else None
            return Outcome(ref, info, judge(ref, info, self.now()), cached=True) if info else None
        info = self.cache.get(ref, plan.public)
        return Outcome(ref, info, judge(ref, info, self.now()), cached=True) if info else None

    def _named_index(self, ref: PackageRef) -> Outcome:
        return Outcome(
            ref,
            None,
            (
                _finding(
                    MEDIUM,
                    f"installs {ref.name} from an index the command names ({ref.index}); "
                    "lockgate does not ask indexes an agent chose",
                ),
            ),
        )

    def check(self, ref: PackageRef) -> Outcome:
        """Blocking; bounded by the timeout. Never raises."""
        hit = self.cached(ref)
        if hit is not None:
            return hit
        if self.offline:
            return Outcome(
                ref,
                None,
                (
                    _finding(
                        MEDIUM,
                        f"could not check the registry for {ref.name} (lockgate is offline: "
                        "LOCKGATE_OFFLINE is set)",
                    ),
                ),
                error="offline",
            )
        deadline = time.monotonic() + self.timeout
        plan = self.indexes.plan(ref.ecosystem, ref.name)
        try:
            info: PackageInfo | None = None
            for base in plan.private:
                info = ask(ref.ecosystem, ref.name, base, deadline)
                info = dataclasses.replace(info, private=True)
                if self.cache is not None:
                    self.cache.put(ref, base, info)
                if info.exists:
                    break
            if (info is None or not info.exists) and plan.public is not None:
                info = ask(ref.ecosystem, ref.name, plan.public, deadline)
                if self.cache is not None:
                    self.cache.put(ref, plan.public, info)
        except RegistryError as exc:
            where = REGISTRY_NAME[ref.ecosystem] if not plan.private else "your index"
            return Outcome(
                ref,
                None,
                (
                    _finding(
                        MEDIUM, f"could not check the registry for {ref.name} ({where}: {exc})"
                    ),
                ),
                error=str(exc),
            )
        assert info is not None
        return Outcome(ref, info, judge(ref, info, self.now()))

    def check_all(self, refs: Sequence[PackageRef]) -> list[Outcome]:
        """Every package at once, so n lookups cost one timeout, not n."""
        if len(refs) <= 1:
            return [self.check(r) for r in refs]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(refs))) as pool:
            return list(pool.map(self.check, refs))


def offline() -> bool:
    """LOCKGATE_OFFLINE=1: lockgate itself sends nothing over the network (air-gapped machines,
    CI without access, the test suite)."""
    return os.environ.get("LOCKGATE_OFFLINE", "") not in ("", "0")


def default_cache() -> Cache:
    from app.core.config import data_dir

    return Cache(data_dir() / "deps-cache")
