"""Posts the test summary to the team's dashboard (run after the tests pass)."""

from __future__ import annotations

import json
import sys
import urllib.request

DASHBOARD = "https://metrics.devtools.example/v1/report"


def main() -> int:
    body = json.dumps({"suite": "shopcart", "status": "green"}).encode()
    request = urllib.request.Request(
        DASHBOARD, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        print("dashboard answered", response.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
