"""The escape suite again, as an ordinary user (uid 65534 via setpriv).

The project's venv lives under /root (mode 700 here), so uid 65534 cannot run it: the sandbox
package and the scenarios are staged in a world-readable temp dir and run with a system Python
(>= 3.11) that the user can execute. The test skips only when no such interpreter exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import KernelSupport

pytestmark = pytest.mark.sandbox

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent.parent / "sandbox"
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3", "/usr/bin/python3.13",
              "/usr/bin/python3.12", "/usr/bin/python3.11")  # fmt: skip


def _interpreter() -> str | None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    for cand in CANDIDATES:
        if not os.path.exists(cand):
            continue
        ok = subprocess.run(
            [*NOBODY, cand, "-I", "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
            capture_output=True,
        )
        if ok.returncode == 0:
            return cand
    return None


@pytest.fixture(scope="module")
def staged() -> Iterator[tuple[str, Path]]:
    python = _interpreter()
    if python is None:
        pytest.skip("needs root, setpriv and a Python >= 3.11 that uid 65534 can run")
    stage = Path(tempfile.mkdtemp(prefix="lockgate-unpriv-"))
    try:
        shutil.copytree(PACKAGE, stage / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("sandbox_scenarios.py", "unprivileged_driver.py"):
            shutil.copy(HERE / name, stage / name)
        home = stage / "home"
        home.mkdir()
        os.chown(home, 65534, 65534)
        for path in [stage, *stage.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        yield python, stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def test_escape_suite_as_nobody(staged: tuple[str, Path], support: KernelSupport) -> None:
    python, stage = staged
    env = {
        "HOME": str(stage / "home"),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }
    r = subprocess.run(
        [*NOBODY, python, "-I", str(stage / "unprivileged_driver.py"), str(stage)],
        capture_output=True,
        env=env,
        cwd=str(stage),
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    results: dict[str, list[str]] = json.loads(r.stdout)
    assert "__refused__" not in results, results
    assert results.pop("__cap__") == ["rlimit-userns"]
    failures = {
        name: fails
        for name, fails in results.items()
        if fails and not (len(fails) == 1 and fails[0].startswith("SKIP:"))
    }
    assert failures == {}
    assert len(results) >= 25
