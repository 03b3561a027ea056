"""What the reviewer is shown for a patch. Its own module because both the ports (the patch
executor returns it) and the state snapshot (the console shows it) name it, and the two must not
import each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PatchReview:
    """What the reviewer is shown for a patch, and what apply will hold it to."""

    action_id: str
    ok: bool
    unified_diff: str  # the one rendering shown to the reviewer
    files: tuple[tuple[str, int, int], ...] = ()  # (path, added lines, removed lines)
    error: str = ""  # why it cannot apply (then ok is False)
    token: object = None  # the patch engine's own parsed plan + hashes; opaque to everyone else
