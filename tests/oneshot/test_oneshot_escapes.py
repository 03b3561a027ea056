"""Key cases of the escape suite through the one-shot backend (`lockgate sandbox run` forks the
sandbox itself, with the zygote's setup code): as root, and as uid 65534 from a staged copy
(the venv lives under /root, which that user cannot enter), like tests/sandbox does.

Each user's cases run in one driver process (oneshot_driver.py) to keep the time small; every
case checks the host side, and the driver fails a case that did not go through OneShotBackend.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCENARIOS = REPO / "tests" / "sandbox"
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3", "/usr/bin/python3.13",
              "/usr/bin/python3.12", "/usr/bin/python3.11")  # fmt: skip
CASES = (
    "write-outside",
    "write-home",
    "git-hooks-and-config",
    "secrets",
    "environment",
    "other-processes",
    "syscalls-denied",
    "fork-cap",
    "fork-bomb",
    "memory-cap",
    "timeout-kills-tree",
    "persistence-after-exit",
)


def _nobody_python() -> str | None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    for cand in CANDIDATES:
        if os.path.exists(cand):
            ok = subprocess.run(
                [*NOBODY, cand, "-I", "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
                capture_output=True,
            )
            if ok.returncode == 0:
                return cand
    return None


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    r = subprocess.run(argv, capture_output=True, env=env, cwd=str(cwd), timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    lines = r.stdout.decode().strip().splitlines()
    assert lines, r.stderr.decode()[-2000:]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.fixture(scope="module")
def as_root() -> dict[str, Any]:
    from sandbox import probe

    kernel = probe()
    if not kernel.can_run():
        pytest.skip(f"the kernel lacks sandbox layers: {kernel.refusal()}")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="lockgate-oneshot-") as tmp:
        env["LOCKGATE_DATA_DIR"] = str(Path(tmp) / "data")
        return _run(
            [
                sys.executable,
                "-I",
                str(HERE / "oneshot_driver.py"),
                str(REPO),
                str(SCENARIOS),
                *CASES,
            ],
            env,
            Path(tmp),
        )


@pytest.fixture(scope="module")
def as_nobody() -> Iterator[dict[str, Any]]:
    python = _nobody_python()
    if python is None:
        pytest.skip("needs root, setpriv and a Python >= 3.11 that uid 65534 can run")
    stage = Path(tempfile.mkdtemp(prefix="lockgate-oneshot-unpriv-"))
    try:
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO / "sandbox", stage / "sandbox", ignore=skip)
        shutil.copy(SCENARIOS / "sandbox_scenarios.py", stage / "sandbox_scenarios.py")
        shutil.copy(HERE / "oneshot_driver.py", stage / "oneshot_driver.py")
        home = stage / "home"
        home.mkdir()
        for path in [stage, *stage.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chown(home, 65534, 65534)
        env = {
            "HOME": str(home),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        yield _run(
            [
                *NOBODY,
                python,
                "-I",
                str(stage / "oneshot_driver.py"),
                str(stage),
                str(stage),
                *CASES,
            ],
            env,
            stage,
        )
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _check(result: dict[str, Any], case: str) -> None:
    failures = result.get(case)
    assert failures is not None, f"{case} did not run: {sorted(result)}"
    if failures and failures[0].startswith("SKIP:"):
        pytest.skip(failures[0][5:].strip())
    assert failures == []


@pytest.mark.parametrize("case", CASES)
def test_escape_stopped_in_process_as_root(as_root: dict[str, Any], case: str) -> None:
    _check(as_root, case)


@pytest.mark.parametrize("case", CASES)
def test_escape_stopped_in_process_as_nobody(as_nobody: dict[str, Any], case: str) -> None:
    _check(as_nobody, case)


def test_every_run_went_through_the_one_shot_backend(as_root: dict[str, Any]) -> None:
    assert as_root["__runs__"] and set(as_root["__runs__"]) == {"OneShotBackend"}
