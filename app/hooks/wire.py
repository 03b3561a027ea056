"""The hook socket's protocol: one JSON line each way per connection. Standard library only.

Request (client → console): `{"v": 1, "token": T, "agent": "claude", "event": {…the agent's
hook JSON…}, "wait_s": S}`. Answer (console → client): `{"v": 1, "decision":
"allow"|"deny"|"ask", "reason": "…", "updated_input": {…}|null, "action_id": "…"}`.

The client keeps its end open while it waits, so the console sees a client that gave up (the
agent's own hook timeout killed it) as end-of-file and withdraws the question.
"""

from __future__ import annotations

from app.hooks import minijson as json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


WIRE_VERSION = 1
MAX_LINE = 8 << 20  # a Write of a large file travels in one request
DECISIONS = ("allow", "deny", "ask")


class WireError(ValueError):
    """A message that is not what the protocol says; one line."""


class Answer:
    """A verdict as the hook client receives it. (A plain class: `dataclasses` costs the hook
    client ~10 ms of imports per tool call.)"""

    __slots__ = ("action_id", "decision", "reason", "updated_input")

    def __init__(
        self,
        decision: str,
        reason: str = "",
        updated_input: dict[str, Any] | None = None,
        action_id: str = "",
    ) -> None:
        self.decision = decision  # allow | deny | ask
        self.reason = reason
        self.updated_input = updated_input
        self.action_id = action_id

    def __repr__(self) -> str:
        return f"Answer({self.decision!r}, {self.reason!r}, {self.updated_input!r})"

    def to_line(self) -> bytes:
        body = {
            "v": WIRE_VERSION,
            "decision": self.decision,
            "reason": self.reason,
            "updated_input": self.updated_input,
            "action_id": self.action_id,
        }
        return (json.dumps(body) + "\n").encode("ascii")

    @classmethod
    def from_line(cls, line: bytes) -> Answer:
        """Strict: anything but a well-formed answer raises WireError (the client then denies)."""
        try:
            data = json.loads(line)
        except ValueError:
            raise WireError("the answer is not JSON") from None
        if not isinstance(data, dict) or data.get("v") != WIRE_VERSION:
            raise WireError("the answer is not a lockgate hook answer of this version")
        decision = data.get("decision")
        reason = data.get("reason", "")
        updated = data.get("updated_input")
        action_id = data.get("action_id", "")
        if decision not in DECISIONS:
            raise WireError(f"unknown decision {decision!r}")
        if not isinstance(reason, str) or not isinstance(action_id, str):
            raise WireError("the answer's reason is not text")
        if updated is not None and not isinstance(updated, dict):
            raise WireError("the answer's updated input is not an object")
        if updated is not None and decision != "allow":
            raise WireError("only an allow may rewrite the tool input")
        return cls(decision, reason, updated, action_id)


def request_line(token: str, agent: str, event: dict[str, Any], wait_s: float) -> bytes:
    body = {"v": WIRE_VERSION, "token": token, "agent": agent, "event": event, "wait_s": wait_s}
    return (json.dumps(body) + "\n").encode("ascii")


class Request:
    __slots__ = ("agent", "event", "token", "wait_s")

    def __init__(self, token: str, agent: str, event: dict[str, Any], wait_s: float) -> None:
        self.token = token
        self.agent = agent
        self.event = event
        self.wait_s = wait_s

    @classmethod
    def from_line(cls, line: bytes) -> Request:
        try:
            data = json.loads(line)
        except ValueError:
            raise WireError("the request is not JSON") from None
        if not isinstance(data, dict) or data.get("v") != WIRE_VERSION:
            raise WireError("not a lockgate hook request of this version")
        token, agent, event, wait_s = (
            data.get("token"),
            data.get("agent"),
            data.get("event"),
            data.get("wait_s", 0),
        )
        if not isinstance(token, str) or not isinstance(agent, str):
            raise WireError("the request has no token or agent")
        if not isinstance(event, dict):
            raise WireError("the request's hook event is not an object")
        if not isinstance(wait_s, int | float) or isinstance(wait_s, bool) or wait_s <= 0:
            raise WireError("the request's wait time is not a positive number")
        return cls(token, agent, event, float(wait_s))
