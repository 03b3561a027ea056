"""The podman backend's tests need podman (and, on a hybrid-cgroup host, runc) and the default
image; .ci/run installs them. When podman is missing or cannot start a container here, every
test in this directory is skipped with the reason, and the reason is printed at the end of the
run (never a silent skip). The default image is built once (seconds) when it is missing."""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sandbox"))


@functools.cache
def podman_problem() -> str:
    """Empty when the podman backend can run here, else why not (one line)."""
    if not sys.platform.startswith("linux"):
        return "the podman backend is tested on Linux only"
    if shutil.which(os.environ.get("LOCKGATE_PODMAN", "podman")) is None:
        return "podman is not installed (apt-get install podman runc; .ci/run does it)"
    from sandbox.podman.cli import podman_for
    from sandbox.podman.image import build
    from sandbox.podman.support import DEFAULT_IMAGE, probe_podman
    from sandbox.policy import SandboxError

    podman = podman_for()
    lock = Path("/tmp/lockgate-podman-test-image.lock")
    with lock.open("a") as f:  # one build across pytest-xdist workers
        fcntl.flock(f, fcntl.LOCK_EX)
        if not podman.image_exists(DEFAULT_IMAGE):
            try:
                build(podman, DEFAULT_IMAGE)
            except SandboxError as exc:
                return f"cannot build the default image: {exc}"
    support = probe_podman(podman, DEFAULT_IMAGE, None)
    if support.refusal():
        return support.refusal()
    return _smoke()


def _smoke() -> str:
    """podman installed is not podman working (storage, runtime, cgroups of this host): one
    container started and one command run, else why not."""
    import tempfile

    from sandbox import Sandbox, SandboxError, SandboxPolicy

    ws = Path(tempfile.mkdtemp(prefix="lockgate-podman-smoke-", dir="/var/tmp"))
    try:
        with Sandbox(SandboxPolicy(workspace=ws, backend="podman")) as sb:
            r = sb.run(["true"], timeout=60)
        return "" if r.exit_code == 0 else f"a container ran `true` with {r.shell_status}"
    except SandboxError as exc:
        return f"podman cannot run a container here: {exc}"
    finally:
        shutil.rmtree(ws, ignore_errors=True)


@pytest.fixture(scope="session")
def podman_ok() -> None:
    problem = podman_problem()
    if problem:
        pytest.skip(f"podman backend: {problem}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say why the podman tests were skipped, also under -q and pytest-xdist (the skips are
    reported from the workers; their reasons are in the reports)."""
    reasons: dict[str, None] = {}
    for rep in terminalreporter.stats.get("skipped", []):
        if "tests/podman" in str(getattr(rep, "nodeid", "")) and isinstance(rep.longrepr, tuple):
            reason = str(rep.longrepr[2])
            if "podman backend:" in reason:
                reasons[reason.removeprefix("Skipped: ")] = None
    for reason in reasons:
        terminalreporter.write_line(f"tests/podman SKIPPED: {reason}", yellow=True)


@pytest.fixture
def pworkspace() -> Iterator[Path]:
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="lockgate-podman-ws-", dir="/var/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)
