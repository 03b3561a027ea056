"""Runs escape cases of tests/sandbox/sandbox_scenarios.py through the one-shot backend: the
sandbox forked by this (single-threaded) process itself, as `lockgate sandbox run` does. Prints
{case: failures} as JSON, plus "__runs__": how many runs really went through OneShotBackend.

    python -I oneshot_driver.py STAGE_OR_REPO SCENARIO_DIR CASE...

Started by test_oneshot_escapes.py as root (the project's interpreter) and as uid 65534 (a
system Python on a staged, world-readable copy), never inside pytest: pytest's process may have
threads, and the in-process backend refuses those.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> int:
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    import sandbox_scenarios as scenarios

    from sandbox import Sandbox
    from sandbox.linux.oneshot import OneShotBackend

    runs: list[str] = []

    class OneShotSandbox(Sandbox):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, in_process=True, prewarm=False, **kw)

        def run(self, *args: Any, **kw: Any) -> Any:
            done = super().run(*args, **kw)
            runs.append(type(self._impl).__name__)
            assert isinstance(self._impl, OneShotBackend), type(self._impl)
            return done

    scenarios.Sandbox = OneShotSandbox
    wanted = sys.argv[3:]
    out: dict[str, Any] = {}
    for case in scenarios.CASES:
        if case.name not in wanted:
            continue
        before = len(runs)
        try:
            failures = scenarios.run_case(case, kernel=None)
        except Exception as exc:  # report, do not stop the suite
            failures = [f"crashed: {exc!r}"]
        if len(runs) == before and not (failures and failures[0].startswith("SKIP:")):
            failures.append("the case did not run through the one-shot backend")
        out[case.name] = failures
    out["__runs__"] = runs
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
