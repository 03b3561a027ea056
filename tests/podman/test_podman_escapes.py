"""The escape suite (tests/sandbox/sandbox_scenarios.py) against the podman backend: the same
cases, each in a fresh area and a fresh container, checked on the HOST side. Cases the
container cannot hold are listed in CANNOT_HOLD with why (none today: the suite holds)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sandbox_scenarios import CASES, Case, run_case

pytestmark = pytest.mark.usefixtures("podman_ok")

# case name -> why the podman backend cannot hold it (strict xfail: it must still fail)
CANNOT_HOLD: dict[str, str] = {}


def _podman(case: Case) -> Case:
    return dataclasses.replace(case, policy={**case.policy, "backend": "podman"})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_escape_is_stopped_in_the_container(case: Case) -> None:
    if case.name in CANNOT_HOLD:
        pytest.xfail(CANNOT_HOLD[case.name])
    failures = run_case(_podman(case))
    if failures and failures[0].startswith("SKIP:"):
        pytest.skip(failures[0][5:].strip())
    assert failures == []


def test_podman_leaves_nothing_in_the_callers_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """conmon writes an `oom` file into podman's working directory when a container's process
    is OOM-killed: the backend runs podman in its own private directory, not the caller's."""
    case = next(c for c in CASES if c.name == "memory-cap")
    here = tmp_path / "caller"
    here.mkdir()
    monkeypatch.chdir(here)
    test_escape_is_stopped_in_the_container(case)
    assert sorted(p.name for p in here.iterdir()) == []
