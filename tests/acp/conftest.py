"""The ACP tests run agents in lockgate's jail (the sandbox on an overlayfs): they skip, saying
why, only when this kernel really cannot build it. The probe runs once per test process."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from acpkit import make_gitws


@functools.cache
def jail_refusal() -> str:
    from sandbox import SandboxError, probe
    from sandbox.linux.jail import Jail
    from sandbox.policy import SandboxPolicy

    kernel = probe()
    if not kernel.can_run():
        return f"the kernel lacks sandbox layers: {kernel.refusal()}"
    with tempfile.TemporaryDirectory(prefix="lockgate-acp-probe-") as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        jail = Jail(SandboxPolicy(workspace=ws), Path(tmp) / "state")
        try:
            jail.start()
        except SandboxError as exc:
            return f"the agent jail cannot be built here: {exc}"
        finally:
            jail.close()
    return ""


@pytest.fixture(autouse=True)
def _jail_available(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("sandbox") is not None and jail_refusal():
        pytest.skip(jail_refusal())


@pytest.fixture
def gitws(tmp_path: Path) -> Path:
    return make_gitws(tmp_path)
