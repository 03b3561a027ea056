"""One streamed request with retries: open, read SSE frames into a parser, classify failures.

Both OpenAI links use it. The SDK's own retries are off (max_retries=0) so every wait is ours and
visible: the link reports "retrying in N s (429), attempt k of n" before sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

import httpx2
import openai

from app.agent.base import StatusState
from app.agent.errors import (
    NO_KEY_MESSAGE,
    Backoff,
    Failure,
    MissingKeyError,
    StreamCut,
    classify,
)
from app.agent.sse import Frame, frames

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class LinkFatal(Exception):
    """A failure retrying cannot fix; its message was already shown as an AgentStatus."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Parser(Protocol):
    def feed(self, frame: Frame) -> None:
        """Take one frame; may raise StreamFailed. Sets `finished` on the terminal event."""
        ...

    @property
    def finished(self) -> bool: ...

    def close(self) -> None:
        """The stream ended: raise StreamCut if what arrived cannot be used."""
        ...

    def whole(self, body: dict[str, Any]) -> None:
        """A server that answered with one JSON body instead of a stream."""
        ...


P = TypeVar("P", bound=Parser)

StatusSink = Callable[[StatusState, str], None]


def make_client(
    *, api_key: str | None = None, base_url: str | None = None, timeout_s: float = 300.0
) -> tuple[openai.AsyncOpenAI, str, str]:
    """The SDK client, the base URL it talks to, and the key (for redaction).

    Without a key, a custom base URL (a local server) gets a placeholder the server ignores;
    the OpenAI API itself gets a MissingKeyError saying how to set one.
    """
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    if not key.strip():
        if url.rstrip("/") == DEFAULT_BASE_URL:
            raise MissingKeyError(NO_KEY_MESSAGE)
        key = "no-key"
    client = openai.AsyncOpenAI(
        api_key=key.strip(),
        base_url=url,
        max_retries=0,
        timeout=openai.Timeout(timeout_s, connect=15.0),
    )
    return client, url, key.strip()


class Transport:
    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        backoff: Backoff,
        status: StatusSink,
        secrets: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.backoff = backoff
        self._status = status
        self._secrets = tuple(secrets)

    async def stream(
        self,
        start: Callable[[], AbstractAsyncContextManager[Any]],
        new_parser: Callable[[], P],
        *,
        adjust: Callable[[Failure], bool] | None = None,
    ) -> P:
        """Run the request until a parser finishes; raise LinkFatal when it cannot.

        `adjust(failure)` may change the next request (e.g. drop an unsupported parameter) and
        returns True to retry at once without counting an attempt.
        """
        attempt = 0
        adjusted = False
        while True:
            parser = new_parser()
            try:
                broken = ""
                async with start() as response:
                    try:
                        if _is_json(response):
                            # Some compatible servers ignore `stream` (often when tools are given).
                            parser.whole(_json_object(await response.read()))
                        else:
                            async for frame in frames(response.iter_lines()):
                                parser.feed(frame)
                                if parser.finished:
                                    break
                    except httpx2.HTTPError as exc:
                        broken = f"{type(exc).__name__}: {exc}"
                if not parser.finished:
                    try:
                        parser.close()  # the parser decides whether a cut stream is usable
                    except StreamCut as cut:
                        raise StreamCut(f"{cut}; {broken}" if broken else str(cut)) from None
                return parser
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = classify(
                    exc, model=self.model, base_url=self.base_url, secrets=self._secrets
                )
                if adjust is not None and not adjusted and adjust(failure):
                    adjusted = True
                    continue
                if not failure.retryable or attempt >= self.backoff.attempts:
                    self._status("error", failure.message)
                    raise LinkFatal(failure) from None
                attempt += 1
                delay = self.backoff.delay(attempt, failure.retry_after)
                self._status(
                    "retrying",
                    f"retrying in {delay:.0f} s ({failure.label}), attempt {attempt} of "
                    f"{self.backoff.attempts}: {failure.message}",
                )
                await asyncio.sleep(delay)
                self._status("thinking", "")


def _is_json(response: Any) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip().lower() == "application/json"


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise StreamCut("the server answered with a body that is not JSON") from None
    if not isinstance(value, dict):
        raise StreamCut("the server answered with JSON that is not an object")
    return value
