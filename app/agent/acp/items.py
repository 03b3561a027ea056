"""What the ACP link tells the session's executors and policy about the items it proposed.

An ACP agent asks for things the pipeline's executors would otherwise do themselves: a
permission request is approved or rejected but never run by lockgate (the agent runs it, in its
jail); a file read is answered from the agent's view of the workspace; a terminal is a command
whose output the agent polls while it runs. The link records each item's nature here, and the
wrappers in `executors.py` act on it. Everything else goes to the real executors unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.model import Verdict


@dataclass(frozen=True)
class ReadItem:
    path: Path  # absolute, as the agent asked
    rel: str | None  # relative to the workspace, when inside it
    line: int | None
    limit: int | None


@dataclass
class TerminalState:
    """One `terminal/create`: its output (the last `limit` bytes) and how it ended."""

    terminal_id: str
    action_id: str
    limit: int | None
    output: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    started: asyncio.Event = field(default_factory=asyncio.Event)
    exit_code: int | None = None
    signal: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[Any] | None = None
    killed: bool = False

    def feed(self, data: bytes) -> None:
        self.output += data
        if self.limit is not None and len(self.output) > self.limit:
            cut = len(self.output) - self.limit
            # keep whole UTF-8 characters: skip continuation bytes at the new start
            while cut < len(self.output) and (self.output[cut] & 0xC0) == 0x80:
                cut += 1
            del self.output[:cut]
            self.truncated = True

    def text(self) -> str:
        return bytes(self.output).decode("utf-8", errors="replace")


@dataclass
class AcpItems:
    permissions: set[str] = field(default_factory=set)  # never run by lockgate
    opaque: set[str] = field(default_factory=set)  # the risk engine cannot judge the text
    reads: dict[str, ReadItem] = field(default_factory=dict)
    terminals: dict[str, TerminalState] = field(default_factory=dict)  # by action id
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    merged_root: Path | None = None  # the workspace as the jailed agent sees it
    # What a patch item would make of each file it touches (None: delete), and the contents an
    # approved `edit` permission already showed the reviewer: a later write of exactly that
    # (fs/write_text_file, or the agent's own write seen in its overlay) is not asked again.
    patch_contents: dict[str, tuple[tuple[str, str | None], ...]] = field(default_factory=dict)
    approved_writes: dict[str, str] = field(default_factory=dict)

    def already_approved(self, action_id: str) -> bool:
        contents = self.patch_contents.get(action_id)
        return bool(contents) and all(
            text is not None and self.approved_writes.get(rel) == text
            for rel, text in contents or ()
        )
