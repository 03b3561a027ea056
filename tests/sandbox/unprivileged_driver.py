"""Runs the escape suite as whoever starts it (the test starts it as uid 65534 with setpriv),
from a staged, world-readable copy of the sandbox package. Prints {case: failures} as JSON.

    python3 -I unprivileged_driver.py STAGE [CASE...]
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    stage = sys.argv[1]
    sys.path[:0] = [stage]
    import sandbox_scenarios as scenarios

    from sandbox import probe

    kernel = probe()
    if not kernel.can_run():
        print(json.dumps({"__refused__": [kernel.refusal()]}))
        return 0
    wanted = set(sys.argv[2:])
    out: dict[str, list[str]] = {"__cap__": [kernel.process_cap]}
    for case in scenarios.CASES:
        if wanted and case.name not in wanted:
            continue
        try:
            out[case.name] = scenarios.run_case(case, kernel=kernel)
        except Exception as exc:  # report, do not stop the suite
            out[case.name] = [f"crashed: {exc!r}"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
