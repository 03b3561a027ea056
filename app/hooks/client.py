"""`lockgate hook AGENT`, the client side: the agent's hook JSON in, the console's verdict out,
in the agent's own output format. Standard library only; it runs once per tool call.

Fail closed: no console, a stale endpoint, a wrong token, a dead socket, a malformed answer or
no answer in time all become a denial with a reason the agent shows its model. The console
being down is noticed within the connect timeout (one second at most; a refused connection at
once).
"""

from __future__ import annotations

import os
import sys

# `_socket`, not `socket`: the wrapper module builds enums at import (~5 ms per tool call), and
# a connect, a send and a receive are all this client does.
from _socket import AF_UNIX, SOCK_STREAM
from _socket import socket as unix_socket

from app.hooks import minijson as json
from app.hooks.endpoint import EndpointError, find_endpoint
from app.hooks.wire import MAX_LINE, Answer, WireError, request_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

AGENTS = ("claude", "gemini", "codex")
CONNECT_TIMEOUT_S = 1.0
ANSWER_MARGIN_S = 2.0
NOT_RUNNING = "lockgate is not running: start `lockgate serve`"
# How long the client waits for a verdict unless told: a little under each agent's own default
# hook timeout (Claude Code 600 s, Gemini CLI 60 s; Codex has none), because an agent that
# kills its hook may go on as if there were no hook.
DEFAULT_WAIT_S = {"claude": 590.0, "gemini": 55.0, "codex": 590.0}


def deny(reason: str) -> Answer:
    return Answer("deny", reason)


def event_from_stdin(data: bytes) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        raise WireError("the hook input on stdin is not JSON") from None
    if not isinstance(event, dict):
        raise WireError("the hook input on stdin is not a JSON object")
    return event


def where(event: dict[str, Any]) -> str:
    """The directory the agent works in: the hook's `cwd`, else the project dir it exports."""
    cwd = event.get("cwd")
    if isinstance(cwd, str) and os.path.isabs(cwd) and os.path.isdir(cwd):
        return cwd
    for name in ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "GEMINI_CWD"):
        value = os.environ.get(name)
        if value and os.path.isdir(value):
            return value
    return os.getcwd()


def ask_console(agent: str, event: dict[str, Any], wait_s: float) -> Answer:
    """Send one hook event to the `lockgate serve` of the workspace and wait for the verdict."""
    start = where(event)
    try:
        endpoint = find_endpoint(start)
    except EndpointError as exc:
        return deny(f"{NOT_RUNNING} ({exc})")
    if endpoint is None:
        return deny(f"{NOT_RUNNING} in {start} or a directory above it")
    try:
        token = endpoint.token()
    except EndpointError as exc:
        return deny(f"{NOT_RUNNING} (its token: {exc})")
    sock = unix_socket(AF_UNIX, SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(endpoint.socket)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            return deny(f"{NOT_RUNNING} (the socket {endpoint.socket} does not answer: {why})")
        try:
            sock.sendall(request_line(token, agent, event, wait_s))
        except OSError as exc:
            return deny(f"lockgate: the console dropped the request ({exc.strerror}); denied")
        # The console answers a timed-out question itself (a denial it records); the margin
        # covers that answer's trip back.
        sock.settimeout(wait_s + ANSWER_MARGIN_S)
        try:
            line = _read_line(sock)
        except TimeoutError:
            return deny(f"lockgate: no verdict within {wait_s:g} s; denied")
        except OSError as exc:
            return deny(f"lockgate: the console connection broke ({exc.strerror}); denied")
    finally:
        sock.close()
    if not line:
        return deny("lockgate: the console closed the connection without a verdict; denied")
    try:
        return Answer.from_line(line)
    except WireError as exc:
        return deny(f"lockgate sent a malformed answer ({exc}); denied")


def _read_line(sock: unix_socket) -> bytes:
    """One line (without its newline); b"" if the peer closed first. An over-long line comes
    back cut, and fails to parse."""
    buf = bytearray()
    while b"\n" not in buf:
        if len(buf) > MAX_LINE:
            return bytes(buf[:MAX_LINE])
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        buf += chunk
    return bytes(buf.split(b"\n", 1)[0])


# --------------------------------------------------------------------------- output formats


def render(agent: str, answer: Answer) -> str:
    """The answer in the agent's documented hook output format ('' = no opinion)."""
    reason = answer.reason
    if agent == "claude":
        out: dict[str, Any] = {
            "hookEventName": "PreToolUse",
            "permissionDecision": answer.decision,
            "permissionDecisionReason": reason,
        }
        if answer.updated_input is not None:
            out["updatedInput"] = answer.updated_input
        return json.dumps({"hookSpecificOutput": out})
    if agent == "gemini":
        # Gemini CLI's BeforeTool knows allow and deny; `tool_input` merges over the call's.
        decision = "allow" if answer.decision == "allow" else "deny"
        body: dict[str, Any] = {"decision": decision, "reason": reason}
        if answer.updated_input is not None:
            body["hookSpecificOutput"] = {
                "hookEventName": "BeforeTool",
                "tool_input": answer.updated_input,
            }
        return json.dumps(body)
    if agent == "codex":
        # Codex reads Claude's PreToolUse format but refuses `ask`, and an `allow` without a
        # rewrite is "unsupported": say nothing then, and Codex's own approvals go on.
        if answer.decision == "allow":
            if answer.updated_input is None:
                return ""
            return json.dumps(
                {
                    "hookSpecificOutput": {
                        "hookEventName": "PreToolUse",
                        "permissionDecision": "allow",
                        "updatedInput": answer.updated_input,
                    }
                }
            )
        return json.dumps(
            {
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": reason or "denied by lockgate",
                }
            }
        )
    raise ValueError(f"unknown agent {agent!r}")


def main(agent: str, wait_s: float | None = None) -> int:
    """Read stdin, ask the console, print the verdict. Exit 0 with JSON for every verdict;
    exit 2 with the reason on stderr (which every one of these agents reads as "blocked") if
    something inside lockgate itself broke."""
    try:
        raw = sys.stdin.buffer.read(MAX_LINE + 1)
        try:
            event = event_from_stdin(raw)
        except WireError as exc:
            answer = deny(f"lockgate: {exc}; denied")
        else:
            answer = ask_console(agent, event, wait_s or DEFAULT_WAIT_S[agent])
        text = render(agent, answer)
        if text:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        return 0
    except BaseException as exc:  # never fail open: exit 2 blocks the tool call
        sys.stderr.write(f"lockgate hook failed ({type(exc).__name__}: {exc}); denied\n")
        return 2
