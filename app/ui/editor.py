"""Editing text in the reviewer's own `$VISUAL`/`$EDITOR`, with the console suspended.

The editor runs in a thread: the pipeline shares the console's event loop and keeps running
(output, network asks, timeouts) while the reviewer edits.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from textual.app import App


@dataclass(frozen=True)
class Edited:
    """What came of an edit: the new text, or why there is none."""

    text: str | None  # None: nothing to use (see `problem`)
    problem: str = ""  # why there is no text, in one line
    changed: bool = False


def editor_command() -> str:
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"


async def edit_in_editor(app: App[object], text: str, file_name: str) -> Edited:
    """Hand `text` to the editor as `file_name` in a private temporary directory."""
    editor = editor_command()
    with tempfile.TemporaryDirectory(prefix="lockgate-edit-") as tmp:
        path = Path(tmp) / file_name
        path.write_text(text, encoding="utf-8")
        try:
            with app.suspend():
                code = await asyncio.to_thread(subprocess.call, [*shlex.split(editor), str(path)])
        except Exception as exc:  # no terminal to hand over (headless), editor missing, ...
            return Edited(None, f"cannot open an editor here: {exc}")
        revised = path.read_text(encoding="utf-8", errors="replace")
    if code != 0:
        return Edited(None, f"{editor} exited with {code}; nothing changed.")
    return Edited(revised, changed=revised != text)
