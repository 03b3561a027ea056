"""The registry check against a loopback server speaking each registry's JSON: what it finds,
how it times out, what it caches, and that private names never reach a public registry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_registry import FakeRegistry, serve

from app.deps.check import CRITICAL, HIGH, MEDIUM, Cache, DepsChecker
from app.deps.indexes import Indexes, discover
from app.deps.model import PackageRef


@pytest.fixture
def reg() -> Iterator[FakeRegistry]:
    with serve() as r:
        yield r


def _indexes(reg: FakeRegistry, **kw: object) -> Indexes:
    regs = {
        "pypi": reg.url("pypi") + "simple/",
        "npm": reg.url("npm"),
        "crates": reg.url("crates"),
        "go": reg.url("go"),
        "rubygems": reg.url("gems"),
    }
    return Indexes(registries=regs, **kw)  # type: ignore[arg-type]


def _checker(reg: FakeRegistry, tmp_path: Path, **kw: object) -> DepsChecker:
    return DepsChecker(
        _indexes(reg, **kw), Cache(tmp_path / "cache"), skip_popular=False, timeout=2.0
    )


def _top(checker: DepsChecker, eco: str, name: str, version: str | None = None) -> tuple[int, str]:
    out = checker.check(PackageRef(eco, name, version))  # type: ignore[arg-type]
    worst = max(out.findings, key=lambda f: f.score)
    return worst.score, worst.reason


@pytest.mark.parametrize(
    ("eco", "name", "version", "score", "words"),
    [
        ("pypi", "lockgate-helperz", None, CRITICAL, "no package named lockgate-helperz on PyPI"),
        ("pypi", "badpkg", None, CRITICAL, "quarantined on PyPI: badpkg was found to ship malware"),
        ("pypi", "brandnew", None, HIGH, "first appeared on PyPI 3 days ago"),
        ("pypi", "youngpkg", None, MEDIUM, "2 releases in 60 days"),
        ("pypi", "retiredpkg", None, MEDIUM, "deprecated on PyPI"),
        ("pypi", "yankpkg", "1.3", MEDIUM, "yankpkg 1.3 was yanked on PyPI: broken build, use 1.4"),
        ("pypi", "oldpkg", "9.9", HIGH, "oldpkg 9.9 does not exist on PyPI"),
        ("pypi", "oldpkg", "2.0", 0, "PyPI: oldpkg exists"),
        ("npm", "no-such-npm-thing", None, CRITICAL, "no package named no-such-npm-thing on npm"),
        ("npm", "newnpm", None, HIGH, "first appeared on npm 5 days ago"),
        ("npm", "held-npm", None, CRITICAL, "quarantined on npm: security holding package"),
        ("npm", "oldnpm", "1.0.0", MEDIUM, "oldnpm 1.0.0 is deprecated on npm: use 2.x"),
        ("npm", "oldnpm", "2.0.0", 0, "npm: oldnpm exists"),
        ("crates", "oldcrate", "1.1.0", MEDIUM, "oldcrate 1.1.0 was yanked on crates.io"),
        ("crates", "nocrate", None, CRITICAL, "no package named nocrate on crates.io"),
        ("go", "github.com/old/mod", None, 0, "exists"),
        ("go", "github.com/no/such", None, CRITICAL, "no package named github.com/no/such"),
        ("rubygems", "newgem", None, HIGH, "first appeared on RubyGems 2 days ago"),
        ("rubygems", "oldgem", None, 0, "RubyGems: oldgem exists"),
    ],
)
def test_findings(
    reg: FakeRegistry,
    tmp_path: Path,
    eco: str,
    name: str,
    version: str | None,
    score: int,
    words: str,
) -> None:
    got_score, reason = _top(_checker(reg, tmp_path), eco, name, version)
    assert got_score == score, reason
    assert words in reason


def test_a_slow_registry_is_inconclusive_within_the_budget(tmp_path: Path) -> None:
    with serve(delay=3.0) as slow:
        checker = DepsChecker(_indexes(slow), Cache(tmp_path), skip_popular=False, timeout=1.0)
        t0 = time.monotonic()
        out = checker.check(PackageRef("pypi", "oldpkg"))
        assert time.monotonic() - t0 < 2.0
    assert out.error
    assert out.findings[0].score == MEDIUM
    assert "could not check the registry for oldpkg" in out.findings[0].reason


def test_an_offline_machine_is_inconclusive(tmp_path: Path) -> None:
    checker = DepsChecker(
        Indexes(registries={"pypi": "http://127.0.0.1:9/simple/"}), None, skip_popular=False
    )
    out = checker.check(PackageRef("pypi", "whatever"))
    assert out.error and "could not check the registry" in out.findings[0].reason


def test_answers_are_cached_24h_found_and_1h_missing(reg: FakeRegistry, tmp_path: Path) -> None:
    clock = [1_000_000.0]
    cache = Cache(tmp_path / "c", clock=lambda: clock[0])
    checker = DepsChecker(_indexes(reg), cache, skip_popular=False)
    checker.check(PackageRef("pypi", "oldpkg"))
    checker.check(PackageRef("pypi", "ghost-pkg"))
    n = len(reg.requests)
    assert checker.cached(PackageRef("pypi", "oldpkg")) is not None
    assert checker.check(PackageRef("pypi", "ghost-pkg")).cached
    assert len(reg.requests) == n
    clock[0] += 2 * 3600  # missing names expire after an hour; found ones stay
    assert checker.cached(PackageRef("pypi", "ghost-pkg")) is None
    assert checker.cached(PackageRef("pypi", "oldpkg")) is not None
    clock[0] += 23 * 3600
    assert checker.cached(PackageRef("pypi", "oldpkg")) is None


def test_private_names_never_reach_the_public_index(reg: FakeRegistry, tmp_path: Path) -> None:
    checker = _checker(reg, tmp_path, pip_extra=(reg.url("private") + "simple/",))
    out = checker.check(PackageRef("pypi", "corp-internal"))
    assert out.info is not None and out.info.private and out.info.exists
    assert all(not p.startswith("/pypi/") for p in reg.requests), reg.requests
    # a public name is asked on the private index first, then on PyPI
    checker.check(PackageRef("pypi", "oldpkg"))
    assert reg.requests[-2:] == ["/private/simple/oldpkg/", "/pypi/simple/oldpkg/"]


def test_an_index_that_replaces_pypi_is_the_only_one_asked(
    reg: FakeRegistry, tmp_path: Path
) -> None:
    checker = _checker(reg, tmp_path, pip_index=reg.url("html") + "simple/")
    out = checker.check(PackageRef("pypi", "corp-internal"))
    assert out.info is not None and out.info.exists and out.info.releases == 1
    missing = checker.check(PackageRef("pypi", "not-there"))
    assert "on your configured index" in missing.findings[0].reason
    assert all(p.startswith("/html/") for p in reg.requests), reg.requests


def test_scoped_npm_names_go_to_their_scope_registry(reg: FakeRegistry, tmp_path: Path) -> None:
    indexes = Indexes(
        registries={"npm": "http://127.0.0.1:9/"}, npm_scopes={"@corp": reg.url("npm")}
    )
    checker = DepsChecker(indexes, Cache(tmp_path), skip_popular=False)
    out = checker.check(PackageRef("npm", "@corp/ui"))
    assert out.info is not None and out.info.exists and out.info.private


def test_an_index_the_command_names_is_never_asked(reg: FakeRegistry, tmp_path: Path) -> None:
    checker = _checker(reg, tmp_path)
    out = checker.check(PackageRef("pypi", "foo", index="https://evil.example/simple"))
    assert not reg.requests
    assert "index the command names" in out.findings[0].reason


def test_popular_names_stay_offline(reg: FakeRegistry, tmp_path: Path) -> None:
    checker = DepsChecker(_indexes(reg), Cache(tmp_path), skip_popular=True)
    assert not checker.needs_lookup(PackageRef("pypi", "requests"))
    assert not checker.needs_lookup(PackageRef("npm", "lodash"))
    assert checker.needs_lookup(PackageRef("pypi", "lockgate-helperz"))
    assert checker.needs_lookup(PackageRef("go", "github.com/old/mod"))


def test_discover_reads_pip_conf_and_npmrc_but_not_the_workspace_npmrc(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://corp.example/simple\nextra-index-url =\n"
        "    https://extra.example/simple\n"
    )
    (home / ".npmrc").write_text("@corp:registry=https://npm.corp.example/\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".npmrc").write_text("registry=http://169.254.169.254/\n")
    idx = discover(ws, {}, env={"HOME": str(home)}, home=home)
    assert idx.pip_index == "https://corp.example/simple"
    assert idx.pip_extra == ("https://extra.example/simple",)
    assert idx.npm_scopes == {"@corp": "https://npm.corp.example/"}
    assert idx.npm_registry is None
    assert idx.plan("pypi", "x").public is None
    with pytest.raises(ValueError):
        discover(ws, {"registries": {"cpan": "https://x"}}, env={}, home=home)
