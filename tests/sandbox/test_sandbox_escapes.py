"""The escape suite as root (the console's usual user on these machines). Each case checks the
host side: see sandbox_scenarios.py."""

from __future__ import annotations

import pytest
from sandbox_scenarios import CASES, Case, run_case

from sandbox import KernelSupport

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_escape_is_stopped(case: Case, support: KernelSupport) -> None:
    failures = run_case(case, kernel=support)
    if failures and failures[0].startswith("SKIP:"):
        pytest.skip(failures[0][5:].strip())
    assert failures == []
