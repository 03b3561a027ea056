"""`Sandbox.run(inherit=…)`: a run handed over by another process takes the allow-listed
variables from that process's environment, never from the one that runs the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import KernelSupport, Sandbox, SandboxPolicy


@pytest.mark.sandbox
def test_the_allow_list_picks_from_the_inherited_environment(
    support: KernelSupport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "C.from-this-process")
    monkeypatch.setenv("EDITOR", "this-process-editor")
    inherited = {"LANG": "C.handed-over", "SECRET_TOKEN": "t0ps3cret", "PATH": os.environ["PATH"]}
    script = 'printf "%s|%s|%s" "$LANG" "${EDITOR-unset}" "${SECRET_TOKEN-unset}"'
    with Sandbox(SandboxPolicy(workspace=tmp_path), prewarm=False) as sb:
        handed = sb.run(["sh", "-c", script], inherit=inherited, timeout=30)
        own = sb.run(["sh", "-c", script], timeout=30)
    # not allow-listed (a token) stays out; EDITOR is not taken from this process's environment
    assert handed.stdout.decode() == "C.handed-over|unset|unset"
    assert own.stdout.decode() == "C.from-this-process|this-process-editor|unset"
