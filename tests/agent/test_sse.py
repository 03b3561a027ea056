"""The SSE reader: frames as the spec defines them, whatever the server's habits."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.agent.sse import Frame, decode, frames


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def _all(*lines: str) -> list[Frame]:
    return [f async for f in frames(_lines(*lines))]


async def test_events_data_comments_and_crlf() -> None:
    got = await _all(
        ": keep-alive",
        "event: response.created\r",
        'data: {"a":',
        "data: 1}",
        "",
        "",
        "data:[DONE]",
        "",
        "id: 7",
        "data: tail-without-blank-line",
    )
    assert got == [
        Frame("response.created", '{"a":\n1}'),
        Frame(None, "[DONE]"),
        Frame(None, "tail-without-blank-line"),
    ]
    assert decode(got[0]) == {"a": 1}
    assert decode(got[1]) is None
    assert decode(Frame(None, "[1, 2]")) is None  # JSON, but not an object
    assert decode(Frame(None, "[" * 100_000)) is None  # too deep: no crash
