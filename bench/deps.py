"""Registry checks: how long an assessment waits for the answer, with a cold and a warm cache,
against the fake registry on loopback (the same JSON the real registries speak).

Prints figures; asserts nothing. Run: .venv/bin/python bench/deps.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "deps"))

from fake_registry import serve  # noqa: E402

from app.deps.check import Cache, DepsChecker  # noqa: E402
from app.deps.extract import from_command  # noqa: E402
from app.deps.indexes import Indexes  # noqa: E402

COMMANDS = [
    "pip install oldpkg",
    "pip install brandnew youngpkg",
    "pip install lockgate-helperz",
    "npm install newnpm oldnpm@2.0.0",
    "pip install badpkg yankpkg==1.3",
]


def run(checker: DepsChecker, rounds: int) -> list[float]:
    times: list[float] = []
    for _ in range(rounds):
        for cmd in COMMANDS:
            refs = [r for r in from_command(cmd) if checker.needs_lookup(r)]
            t0 = time.perf_counter()
            checker.check_all(refs)
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    with serve() as reg, tempfile.TemporaryDirectory() as tmp:
        indexes = Indexes(registries={"pypi": reg.url("pypi") + "simple/", "npm": reg.url("npm")})
        cold_times: list[float] = []
        for i in range(20):
            checker = DepsChecker(indexes, Cache(Path(tmp) / f"c{i}"), skip_popular=False)
            cold_times += run(checker, 1)
        warm = DepsChecker(indexes, Cache(Path(tmp) / "warm"), skip_popular=False)
        run(warm, 1)
        warm_times = run(warm, 50)
        popular = DepsChecker(indexes, Cache(Path(tmp) / "pop"))
        popular.needs_lookup(from_command("pip install requests")[0])  # load the lists once
        t0 = time.perf_counter()
        for _ in range(1000):
            [r for r in from_command("pip install requests numpy") if popular.needs_lookup(r)]
        pop = (time.perf_counter() - t0) / 1000
    for name, ts in (("cold cache", cold_times), ("warm cache", warm_times)):
        ts.sort()
        print(
            f"{name}: per install command p50 {1000 * statistics.median(ts):.2f} ms, "
            f"p95 {1000 * ts[int(0.95 * len(ts))]:.2f} ms ({len(ts)} commands, loopback registry)"
        )
    print(f"popular names (no lookup): {1e6 * pop:.1f} µs per command")


if __name__ == "__main__":
    main()
