"""The OS sandbox approved commands run in. Knows nothing of app/ (checked by lint-imports).

from sandbox import Sandbox, SandboxPolicy
with Sandbox(SandboxPolicy(workspace=Path("..."))) as sb:
    r = sb.run(["sh", "-c", "make test"], timeout=60)
"""

from sandbox.policy import (
    Completed,
    PolicyError,
    SandboxError,
    SandboxPolicy,
    SandboxUnavailable,
)
from sandbox.probe import KernelSupport, Layer, probe
from sandbox.runner import Sandbox, SandboxStatus

__all__ = [
    "Completed",
    "KernelSupport",
    "Layer",
    "PolicyError",
    "Sandbox",
    "SandboxError",
    "SandboxPolicy",
    "SandboxStatus",
    "SandboxUnavailable",
    "probe",
]
