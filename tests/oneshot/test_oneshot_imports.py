"""What `lockgate sandbox run` loads on its cold start (issue #19: 50 ms). The heavy modules
kept off its path cost ~30 ms together; one import of any of them anywhere on the path brings
its cost back, so this names them and fails when one returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

# what each costs (with what it pulls in) on this project's start, and why it is not needed
KEPT_OFF = {
    "dataclasses": "~22 ms with inspect and compiling each class: records use sandbox.records",
    "inspect": "~7 ms (ast, dis, tokenize)",
    "typing": "~3 ms: annotations are not evaluated; imports under TYPE_CHECKING",
    "platformdirs": "~5 ms with tempfile and shutil: app.core.dirs applies the XDG rule",
    "tempfile": "(platformdirs')",
    "click": "~20 ms: the fast path reads its options itself",
    "asyncio": "the console's",
    "textual": "the console's",
    "app.risk": "the risk engine is the hook's, not the sandbox's",
}

_DRIVER = """
import json, sys
from app.cli import sandbox_fast
statuses = []
sandbox_fast.exit_now = statuses.append
sandbox_fast.run(sys.argv[1:])
sys.stdout.write(json.dumps({"status": statuses, "modules": sorted(sys.modules)}))
"""


@pytest.mark.sandbox
def test_the_one_shot_path_keeps_heavy_modules_off(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKGATE_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")  # the user's own config and data dirs, as on a desk
    r = subprocess.run(
        [sys.executable, "-c", _DRIVER, "--workspace", str(tmp_path / "ws"), "--", "/bin/true"],
        capture_output=True,
        env=env,
        timeout=60,
        cwd=str(REPO),
    )
    assert r.returncode == 0, r.stderr.decode()
    report = json.loads(r.stdout)
    assert report["status"] == [0], r.stderr.decode()  # the command really ran, in the sandbox
    loaded = set(report["modules"])
    back = {
        name: why
        for name, why in KEPT_OFF.items()
        if name in loaded or any(m.startswith(name + ".") for m in loaded)
    }
    assert not back, f"back on the cold path of `lockgate sandbox run`: {back}"
