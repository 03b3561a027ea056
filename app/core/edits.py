"""The difference between the command an agent proposed and the one the reviewer edited it into.

One function, used by the console (critical confirmation, detail pane) and by the audit log's
verdict record, so the reviewer and a later auditor read the very same diff: what will run is
the edited text, and the diff says exactly how it differs from what was proposed.
"""

from __future__ import annotations

import difflib


def edit_diff(original: str, edited: str) -> str:
    """A unified diff (no context limit) from `original` to `edited`, line by line; '' if equal.

    Every line of both texts appears once, prefixed by ' ', '-' or '+', so even a one-line
    command shows both versions in full."""
    if original == edited:
        return ""
    old, new = original.splitlines(), edited.splitlines()
    lines = difflib.unified_diff(
        old, new, "proposed", "edited", n=max(len(old), len(new)), lineterm=""
    )
    return "\n".join(lines)
