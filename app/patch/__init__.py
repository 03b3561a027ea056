"""Patch engine: V4A and unified diffs parsed into one model, applied atomically, undoable."""

from app.patch.errors import PatchError
from app.patch.model import FileChange, Hunk, ParsedPatch
from app.patch.parse import parse_patch

__all__ = ["FileChange", "Hunk", "ParsedPatch", "PatchError", "parse_patch"]
