"""What can go wrong talking to a model server, in words a user can act on, and how long to wait.

Every failure of a request is classified once here: fatal ones (bad key, unknown model, bad
request) end the session with one clear line; transient ones (429, 5xx, dropped connections, cut
streams) are retried with capped exponential backoff, and each wait is shown as an AgentStatus
so the console never looks frozen. Nothing that leaves this module may contain the API key.
"""

from __future__ import annotations

import ipaddress
import random
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import openai

FailureKind = Literal[
    "auth",
    "forbidden",
    "model",
    "quota",
    "rate",
    "server",
    "connect",
    "timeout",
    "stream",
    "bad-request",
    "unknown",
]


class MissingKeyError(Exception):
    """No API key for a server that needs one; the message tells how to set it."""


NO_KEY_MESSAGE = (
    "no OpenAI API key: set one with `export OPENAI_API_KEY=sk-...` "
    "(or pass --base-url for a local server that needs none), "
    "or try `lockgate demo`, which needs no key and no network"
)


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str  # one line, already redacted
    retryable: bool
    retry_after: float | None = None  # seconds the server asked us to wait
    status_code: int | None = None

    @property
    def label(self) -> str:
        """Short tag for the status line: '429', '503', 'connection', 'stream cut'."""
        if self.status_code is not None:
            return str(self.status_code)
        return {"connect": "connection", "timeout": "timeout", "stream": "stream cut"}.get(
            self.kind, self.kind
        )


class StreamCut(Exception):
    """The server's stream ended before its terminal event (or broke mid-transfer)."""


class StreamFailed(Exception):
    """The server reported a failure inside the stream (`response.failed` or an `error` event)."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.code = code


_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-*]{4,}")


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove API keys: the given secrets anywhere, and anything shaped like an OpenAI key."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return _KEY_PATTERN.sub(r"\1***", text)


def safe_url(url: str) -> str:
    """A base URL fit to show: user:password@ removed, query dropped (keys hide there too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    return None


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return exc.message


def _error_code(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("code") or inner.get("type") or "")
    return ""


def classify(
    exc: BaseException, *, model: str, base_url: str, secrets: Sequence[str] = ()
) -> Failure:
    """Map an exception from a request (or its stream) to a Failure."""
    where = safe_url(base_url)
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        detail = redact(_one_line(_server_message(exc)), secrets)
        if code == 401:
            return Failure(
                "auth",
                f"the server at {where} rejected the API key (401): {detail}. "
                "Check OPENAI_API_KEY.",
                False,
                status_code=code,
            )
        if code == 403:
            return Failure(
                "forbidden",
                f"the server at {where} refused access (403): {detail}",
                False,
                status_code=code,
            )
        if code == 404:
            return Failure(
                "model",
                f"not found at {where} (404): {detail}. Is the model name {model!r} right "
                "(--model), and does the server speak this API (--api)?",
                False,
                status_code=code,
            )
        if code == 429:
            if _error_code(exc) == "insufficient_quota":
                return Failure(
                    "quota",
                    f"the account behind this key has no quota left (429): {detail}",
                    False,
                    status_code=code,
                )
            return Failure(
                "rate", f"rate limited (429): {detail}", True, _retry_after(exc), status_code=code
            )
        if code in (408, 409) or code >= 500:
            return Failure(
                "server",
                f"server error ({code}): {detail}",
                True,
                _retry_after(exc),
                status_code=code,
            )
        return Failure(
            "bad-request", f"the server refused the request ({code}): {detail}", False, None, code
        )
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout", f"no answer from {where} in time", True)
    if isinstance(exc, openai.APIConnectionError):
        reason = _connection_reason(exc)
        if reason == "connection refused" and _loopback(base_url):
            # Nothing listens on this machine's port: waiting will not start a server.
            return Failure(
                "connect",
                f"cannot connect to {where}: connection refused (is the server running?)",
                False,
            )
        return Failure("connect", f"cannot connect to {where}: {reason}", True)
    if isinstance(exc, StreamFailed):
        retry = exc.code in (None, "", "server_error", "rate_limit_exceeded", "overloaded")
        return Failure(
            "server" if retry else "bad-request",
            f"the model's response failed: {redact(_one_line(str(exc)), secrets)}",
            retry,
        )
    if isinstance(exc, StreamCut):
        return Failure(
            "stream", f"the stream from {where} ended early: {_one_line(str(exc))}", True
        )
    return Failure(
        "unknown", redact(_one_line(f"{type(exc).__name__}: {exc}"), secrets) or "error", False
    )


def _loopback(url: str) -> bool:
    """Whether the URL names this machine (a refused port there is not a passing outage)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connection_reason(exc: BaseException) -> str:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = str(cur)
        if isinstance(cur, ConnectionRefusedError) or "refused" in text.lower():
            return "connection refused"
        if isinstance(cur, socket.gaierror) or "name or service not known" in text.lower():
            return "unknown host"
        cur = cur.__cause__ or cur.__context__
    return _one_line(str(exc)) or "connection error"


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter; the server's Retry-After wins when it is longer."""

    attempts: int = 5  # retries after the first try
    base_s: float = 1.0
    cap_s: float = 30.0
    jitter: float = 0.2

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        raw = min(self.cap_s, self.base_s * (2 ** (attempt - 1)))
        raw *= 1.0 + random.uniform(0.0, self.jitter)
        if retry_after is not None:
            raw = max(raw, retry_after)
        return min(raw, self.cap_s)
