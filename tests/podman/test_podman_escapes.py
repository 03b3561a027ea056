"""The escape suite (tests/sandbox/sandbox_scenarios.py) against the podman backend: the same
cases, each in a fresh area and a fresh container, checked on the HOST side. Cases the
container cannot hold are listed in CANNOT_HOLD with why (none today: the suite holds)."""

from __future__ import annotations

import dataclasses

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
