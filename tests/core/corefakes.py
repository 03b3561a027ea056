"""The core tests' doubles: the shared ones (`tests/fakes.py`) with the core's conventions —
"CRIT"/"HIGH" markers score critical/high, network asks are safe unless marked.

Conventions in command text (so scenarios read plainly):
  "CRIT"  → the fake risk engine scores it critical;  "HIGH" → high;  otherwise safe
  "POLICY-DENY" → the fake policy denies it;  "ASK" → the policy asks;  safe → allowed
  "EXPLODE" → the executor raises;  "BLOCK" → the executor blocks until released or cancelled
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

# `tests/` holds the shared doubles; pytest puts it on the path, a driver run as a subprocess
# (crash_driver.py) does not.
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fakes
from fakes import (
    MARKER_RULES,
    FilePatches,
    RulePolicy,
    RuleRisk,
    ScriptedLink,
    Trace,
)

from app.core.model import CommandAction, NetworkAction, PatchAction

__all__ = [
    "FakePolicy",
    "FakeRisk",
    "FilePatches",
    "RecordingCommands",
    "ScriptedLink",
    "Trace",
    "cmd",
    "digest",
    "net",
    "patch",
]


class FakeRisk(RuleRisk):
    """The marker rules: "CRIT" is critical, "HIGH" high, the rest safe."""

    def __init__(self) -> None:
        super().__init__(MARKER_RULES)


FakePolicy = RulePolicy


class RecordingCommands(fakes.RecordingCommands):
    """Prints the command's own text: what the audit and resume tests hash and read back."""

    def __init__(self, trace: Trace | None = None) -> None:
        super().__init__(trace, say=str.encode)


def cmd(text: str, turn: str = "t1", **kw: object) -> CommandAction:
    return CommandAction(command=text, turn_id=turn, **kw)  # type: ignore[arg-type]


def patch(text: str, turn: str = "t1") -> PatchAction:
    return PatchAction(patch=text, turn_id=turn)


def net(host: str, turn: str = "t1") -> NetworkAction:
    return NetworkAction(host=host, port=443, turn_id=turn)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
