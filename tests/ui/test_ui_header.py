"""The header reads the sandbox's real status type and names every missing layer loudly."""

from __future__ import annotations

from app.ui.widgets.header import summarise_sandbox
from sandbox.probe import Layer
from sandbox.runner import SandboxStatus


def _status(degraded: tuple[str, ...]) -> SandboxStatus:
    layers = (
        Layer("namespaces", True, "user, mount, pid, net"),
        Layer("landlock", "landlock" not in degraded, "ABI 7"),
        Layer("seccomp", True, "filter"),
    )
    return SandboxStatus("linux", layers, "off", degraded, "cgroup pids", "/ws")


def test_full_sandbox() -> None:
    s = summarise_sandbox(_status(()))
    assert s.text == "namespaces+landlock+seccomp, cap cgroup pids"
    assert s.network == "off"
    assert s.degraded == ()


def test_degraded_layer_is_named() -> None:
    s = summarise_sandbox(_status(("landlock",)))
    assert "landlock" not in s.text
    assert s.degraded == ("sandbox layer landlock is missing",)


def test_no_status_is_itself_a_warning() -> None:
    assert summarise_sandbox(None).degraded
