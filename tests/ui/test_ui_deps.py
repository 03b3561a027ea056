"""Registry checks in the console: an install of a name the popularity lists do not know appears
at once, waiting with "checking the registry for X…", and when the registry's answer lands (a
second assessment of the same action, through `Pipeline.add_findings`) its badge and reasons move
in the queue and the detail. The real `DepsPolicy` and `DepsChecker` ask the fake registry on
loopback (`tests/deps/fake_registry.py`), which answers after a delay."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from uikit import Console, cmd, console

from app.core.ports import PolicyEngine
from app.deps.check import Cache, DepsChecker, Outcome
from app.deps.indexes import Indexes
from app.deps.model import PackageRef
from app.deps.policy import DepsPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deps"))  # the registry double
from fake_registry import FakeRegistry, serve


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with serve() as r:
        yield r


class GatedChecker(DepsChecker):
    """The real checker, whose lookups (on the policy's thread) wait for the test's word: the
    moment before the registry answers stays on screen as long as the test looks at it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.gate = threading.Event()

    def check_all(self, refs: Sequence[PackageRef]) -> list[Outcome]:
        self.gate.wait(10)
        return super().check_all(refs)


def row_of(c: Console, text: str) -> str:
    return next(line for line in c.text.splitlines() if text in line)


def flat(text: str) -> str:
    return " ".join(text.split())


async def test_the_badge_and_reasons_move_when_the_registry_answers(
    workspace: Path, tmp_path: Path, registry: FakeRegistry
) -> None:
    indexes = Indexes(registries={"pypi": registry.url("pypi") + "simple/"})
    checker = GatedChecker(indexes, Cache(tmp_path / "deps-cache"))

    def with_registry(inner: PolicyEngine) -> PolicyEngine:
        return DepsPolicy(inner, checker, headless=False)

    async with console(workspace, wrap_policy=with_registry) as c:
        c.link.turn("t1", [cmd("uv add brandnew"), cmd("uv add no-such-pkg-zq", n=2)])
        await c.select("cmd-t1-1")
        # At once: asked, still safe by the rules, the lookup named.
        assert "SAFE   0  waiting" in row_of(c, "uv add brandnew")
        assert "SAFE   0  waiting" in row_of(c, "uv add no-such-pkg-zq")
        detail = flat(c.main.detail.text)
        assert "checking the registry for brandnew (PyPI); the answer updates this item" in detail

        # The answer lands on the same actions: badges and reasons move up.
        checker.gate.set()
        await c.until(lambda: "CRIT" in row_of(c, "uv add no-such-pkg-zq"))
        await c.until(lambda: "HIGH" in row_of(c, "uv add brandnew"))
        assert "waiting" in row_of(c, "uv add brandnew")  # still asked, never allowed by it
        reason = "brandnew first appeared on PyPI 3 days ago (1 release)"
        await c.until(lambda: reason in flat(c.main.detail.text))
        # Once among the findings (however often it was delivered), and in the policy's words.
        assert flat(c.main.detail.text).count(f"70 supply-chain {reason}") == 1
        assert f"looks risky; {reason}" in flat(c.main.detail.text)
        await c.select("cmd-t1-2")
        detail = flat(c.main.detail.text)
        assert "no package named no-such-pkg-zq on PyPI" in detail, detail
        assert c.main.detail.has_class("-critical")  # framed as critical: typed confirmation
