"""The podman backend from the command line: `sandbox run --sandbox-backend podman` keeps the
exit-status contract (124 on timeout: tests/podman/test_podman_backend.py), `sandbox check --backend podman` reports and refuses with the fix, the
`[sandbox]` config and the options choose the backend, and serve hands the options on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import ConfigError
from app.execute import sandbox_backend
from app.execute.sandbox_config import sandbox_policy

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "LOCKGATE_NO_FAST_PATH": "1"},
        timeout=120,
    )


@pytest.mark.usefixtures("podman_ok")
def test_sandbox_run_and_check(pworkspace: Path) -> None:
    ws = str(pworkspace)
    r = _cli("sandbox", "run", "-w", ws, "--sandbox-backend", "podman", "--",
             "sh", "-c", "echo in; cat /proc/1/cmdline | tr '\\0' ' '; exit 7")  # fmt: skip
    assert r.returncode == 7, r.stderr
    assert r.stdout.startswith("in\npython3 -I -S /.lockgate/code/init.py")
    r = _cli("sandbox", "run", "-w", ws, "--sandbox-backend", "podman", "--image",
             "localhost/lockgate-no-such-image:1", "--", "true")  # fmt: skip
    assert r.returncode == 125 and "lockgate sandbox image build" in r.stderr
    r = _cli("sandbox", "check", "--backend", "podman")
    assert r.returncode == 0, r.stdout
    assert "rootful" in r.stdout or "rootless" in r.stdout
    assert "cgroups: v" in r.stdout and "sandbox: can run" in r.stdout


def test_options_need_the_podman_backend(pworkspace: Path) -> None:
    r = _cli("sandbox", "run", "-w", str(pworkspace), "--image", "x", "--", "true")
    assert r.returncode == 125 and "need the podman backend" in r.stderr


def test_config_and_command_line_choose_the_backend(
    pworkspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_backend, "_cli", {})
    kw = {"workspace": pworkspace, "network": "off", "allow_degraded": False}
    assert sandbox_policy({}, **kw).backend == "linux"  # type: ignore[arg-type]
    p = sandbox_policy({"backend": "podman", "image": "img:1"}, **kw)  # type: ignore[arg-type]
    assert (p.backend, p.container.image) == ("podman", "img:1")
    with pytest.raises(ConfigError, match="linux or podman"):
        sandbox_policy({"backend": "docker"}, **kw)  # type: ignore[arg-type]
    sandbox_backend.set_from_cli("backend", "linux")
    with pytest.raises(ConfigError, match="need the podman backend"):
        sandbox_policy({"backend": "podman", "image": "img:1"}, **kw)  # type: ignore[arg-type]
    sandbox_backend.set_from_cli("backend", "podman")
    sandbox_backend.set_from_cli("podman_connection", "box")
    p = sandbox_policy({}, **kw)  # type: ignore[arg-type]
    assert (p.backend, p.container.connection) == ("podman", "box")
    # what serve hands on to every rewritten `sandbox run`
    assert sandbox_backend.cli_args() == (
        "--sandbox-backend", "podman", "--podman-connection", "box"
    )  # fmt: skip
