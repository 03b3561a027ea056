"""`lockgate deps check` from the shell, against the fake registry named in the user's config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_registry import FakeRegistry, serve


@pytest.fixture
def reg() -> Iterator[FakeRegistry]:
    with serve() as r:
        yield r


def _run(reg: FakeRegistry, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cfg = Path(os.environ["LOCKGATE_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(
        f'[deps.registries]\npypi = "{reg.url("pypi")}simple/"\nnpm = "{reg.url("npm")}"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "LOCKGATE_OFFLINE"}
    env["HOME"] = str(cwd)  # no pip.conf or .npmrc of the developer's
    return subprocess.run(
        [sys.executable, "-m", "app", "deps", "check", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_findings_and_exit_code(reg: FakeRegistry, tmp_path: Path) -> None:
    p = _run(reg, "--json", "lockgate-helperz", "npm:newnpm", "requests", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    rows = {r["name"]: r for r in json.loads(p.stdout)}
    assert rows["lockgate-helperz"]["level"] == "critical"
    assert rows["lockgate-helperz"]["exists"] is False
    assert (
        "no package named lockgate-helperz on PyPI"
        in rows["lockgate-helperz"]["findings"][0]["reason"]
    )
    assert rows["newnpm"]["level"] == "high" and rows["newnpm"]["releases"] == 1
    assert rows["requests"]["popular"] is True
    assert not any("requests" in path for path in reg.requests)


def test_a_clean_package_exits_0(reg: FakeRegistry, tmp_path: Path) -> None:
    p = _run(reg, "oldpkg==2.0", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "oldpkg 2.0" in p.stdout and "ok" in p.stdout


def test_manifest_file(reg: FakeRegistry, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("badpkg\nrequests==2.31.0\n")
    p = _run(reg, "--file", "requirements.txt", cwd=tmp_path)
    assert p.returncode == 1
    assert "quarantined on PyPI" in p.stdout


def test_usage_errors_exit_2(reg: FakeRegistry, tmp_path: Path) -> None:
    assert _run(reg, cwd=tmp_path).returncode == 2
    (tmp_path / "notes.md").write_text("x")
    p = _run(reg, "--file", "notes.md", cwd=tmp_path)
    assert p.returncode == 2 and "not a manifest" in p.stderr
