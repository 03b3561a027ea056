"""Server-sent events read straight off the HTTP response.

The links read the raw stream instead of the SDK's typed stream: the SDK parses event types it
does not know into the wrong classes, so dispatch happens here on the `type` string of plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frame:
    event: str | None  # the `event:` field, if any
    data: str  # the joined `data:` lines


async def frames(lines: AsyncIterator[str]) -> AsyncIterator[Frame]:
    """Group lines into frames (a blank line ends a frame); comments and ids are ignored."""
    event: str | None = None
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield Frame(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield Frame(event, "\n".join(data))


def decode(frame: Frame) -> dict[str, Any] | None:
    """The frame's JSON object, or None when it is not one (the caller decides what that means)."""
    try:
        value = json.loads(frame.data)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
