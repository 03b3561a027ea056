"""The Chat Completions link, for OpenAI-compatible servers (`--api chat --base-url URL`).

`shell` and `apply_patch` are offered as function tools with JSON schemas. Tool-call deltas are
accumulated by their `index` (ids and names arrive once, arguments in pieces); each call is
answered with one `tool` message. Arguments that are not valid JSON, do not fit the schema, or
name an unknown tool get an error message in that call's place; a stream that breaks off after
tool calls started gets an error for each of them (nothing of a half-received turn runs), while a
stream that breaks off before anything useful arrived is retried.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from app.agent.base import (
    MAX_ACTIONS_PER_TURN,
    LinkBase,
    ResumeMismatch,
    checkpoints,
    with_ids,
)
from app.agent.errors import Backoff, StreamCut, StreamFailed
from app.agent.outputs import command_text, patch_text
from app.agent.prompt import system_prompt
from app.agent.sse import Frame, decode
from app.agent.transport import LinkFatal, Transport
from app.core.events import AgentEvent, AgentText
from app.core.model import Action, CommandAction, PatchAction, Result
from app.core.ports import SessionContext

SHELL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "shell",
        "description": (
            "Run shell commands in the workspace, one after another, each with `bash -c`. "
            "Risky commands wait for a human reviewer. Returns each command's exit code, "
            "stdout and stderr."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "commands": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "description": "Shell command strings to run, in order.",
                },
                "workdir": {
                    "type": "string",
                    "description": "Directory to run in, relative to the workspace (optional).",
                },
                "timeout_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Time limit per command in milliseconds (optional).",
                },
            },
            "required": ["commands"],
            "additionalProperties": False,
        },
    },
}

APPLY_PATCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "apply_patch",
        "description": (
            "Create, update, delete or move files with a patch in V4A format: "
            "`*** Begin Patch`, then `*** Add File: path` (every line prefixed with +), "
            "`*** Delete File: path`, or `*** Update File: path` (optional `*** Move to: path`) "
            "with `@@ context` hunks of ' ', '-' and '+' lines, then `*** End Patch`. "
            "Paths are relative to the workspace. A human reviews patches."
        ),
        "parameters": {
            "type": "object",
            "properties": {"patch": {"type": "string", "description": "The whole V4A patch."}},
            "required": ["patch"],
            "additionalProperties": False,
        },
    },
}

TOOLS = [SHELL_TOOL, APPLY_PATCH_TOOL]
API = "chat"


# --------------------------------------------------------------------------- stream parsing


@dataclass
class _Call:
    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class ChatParser:
    emit: Callable[[AgentEvent], None]
    content: str = ""
    finish_reason: str | None = None
    truncated: bool = False
    bad_frames: int = 0
    calls: dict[int, _Call] = field(default_factory=dict)
    _finished: bool = False
    _chunks: int = 0

    @property
    def finished(self) -> bool:
        return self._finished

    def feed(self, frame: Frame) -> None:
        if frame.data.strip() == "[DONE]":
            self._finished = True
            return
        data = decode(frame)
        if data is None:
            self.bad_frames += 1
            return
        if "error" in data and "choices" not in data:
            error = data["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            raise StreamFailed(str(message or "stream error"), str(code) if code else None)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        self._chunks += 1
        choice = choices[0]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            text = delta.get("content")
            if isinstance(text, str) and text:
                self.content += text
                self.emit(AgentText(text, "text"))
            for key in ("reasoning_content", "reasoning"):
                thought = delta.get(key)
                if isinstance(thought, str) and thought:
                    self.emit(AgentText(thought, "reasoning"))
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                for position, part in enumerate(tool_calls):
                    if isinstance(part, dict):
                        self._take_call(part, position)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self.finish_reason = reason

    def whole(self, body: dict[str, Any]) -> None:
        """A whole ChatCompletion: its message is read as one big delta."""
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            if "error" in body:
                self.feed(Frame(None, json.dumps({"error": body["error"]})))
            raise StreamCut("the server's answer has no choices")
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        chunk = {
            "choices": [{"delta": message, "finish_reason": choice.get("finish_reason") or "stop"}]
        }
        self.feed(Frame(None, json.dumps(chunk)))
        self._finished = True

    def _take_call(self, part: dict[str, Any], position: int) -> None:
        index = part.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = position
        call = self.calls.setdefault(index, _Call(index))
        if isinstance(part.get("id"), str) and part["id"]:
            call.id = part["id"]
        function = part.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str) and function["name"] and not call.name:
                call.name = function["name"]
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                call.arguments += arguments
            elif isinstance(arguments, dict):  # some compatible servers send an object
                call.arguments += json.dumps(arguments)

    def close(self) -> None:
        # No [DONE]. A finish_reason means the answer is whole (some servers omit [DONE]).
        if self.finish_reason is not None:
            return
        if self.calls:
            self.truncated = True  # answered with an error per call, never run
            return
        raise StreamCut(
            "the stream ended before the answer finished"
            + (f" ({self.bad_frames} unreadable frame(s))" if self.bad_frames else "")
        )

    def ordered_calls(self) -> list[_Call]:
        calls = [self.calls[k] for k in sorted(self.calls)]
        for n, call in enumerate(calls):
            if not call.id:
                call.id = f"call_{n}"
        return calls


# --------------------------------------------------------------------------- turn planning


@dataclass
class _Slot:
    call_id: str
    actions: tuple[Action, ...] = ()
    ready: str | None = None


def _error(message: str) -> str:
    return f"lockgate: {message}"


def _plan_call(call: _Call, turn_id: str, *, truncated: bool, length_cut: bool) -> _Slot:
    if truncated:
        return _Slot(
            call.id,
            ready=_error(
                "the stream broke off before this tool call was complete; nothing ran. "
                "Send it again."
            ),
        )
    if call.name not in ("shell", "apply_patch"):
        return _Slot(
            call.id,
            ready=_error(
                f"unknown tool {call.name!r}: the tools are `shell` and `apply_patch`. Nothing ran."
            ),
        )
    try:
        args = json.loads(call.arguments or "{}")
    except (json.JSONDecodeError, RecursionError) as exc:
        why = (
            "it was cut off by the output token limit"
            if length_cut
            else f"{exc.msg} at {exc.pos}"
            if isinstance(exc, json.JSONDecodeError)
            else "too deeply nested"
        )
        return _Slot(
            call.id,
            ready=_error(
                f"the arguments of this {call.name} call are not valid JSON ({why}); nothing ran."
            ),
        )
    if not isinstance(args, dict):
        return _Slot(
            call.id,
            ready=_error(
                f"the arguments of this {call.name} call must be a JSON object; nothing ran."
            ),
        )
    if call.name == "shell":
        return _plan_shell(call, args, turn_id)
    patch = args.get("patch")
    if not isinstance(patch, str) or not patch.strip():
        return _Slot(
            call.id,
            ready=_error(
                "malformed apply_patch call: `patch` must be the patch text; nothing changed."
            ),
        )
    return _Slot(call.id, actions=(PatchAction(patch=patch, turn_id=turn_id, call_id=call.id),))


def _plan_shell(call: _Call, args: dict[str, Any], turn_id: str) -> _Slot:
    commands = args.get("commands")
    if isinstance(commands, str):  # models often send one command as a string
        commands = [commands]
    if commands is None and isinstance(args.get("command"), str | list):
        commands = args["command"] if isinstance(args["command"], list) else [args["command"]]
    if (
        not isinstance(commands, list)
        or not commands
        or not all(isinstance(c, str) and c.strip() for c in commands)
    ):
        return _Slot(
            call.id,
            ready=_error(
                "malformed shell call: `commands` must be a non-empty list of command strings; "
                "nothing ran."
            ),
        )
    workdir = args.get("workdir")
    if workdir is not None and (not isinstance(workdir, str) or not workdir.strip()):
        return _Slot(
            call.id,
            ready=_error("malformed shell call: `workdir` must be a path string; nothing ran."),
        )
    timeout = args.get("timeout_ms")
    timeout_s: float | None = None
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        timeout_s = float(timeout) / 1000.0
    actions = tuple(
        CommandAction(command=c, turn_id=turn_id, cwd=workdir, timeout_s=timeout_s, call_id=call.id)
        for c in commands
    )
    return _Slot(call.id, actions=actions)


def _capped(slots: list[_Slot]) -> list[_Slot]:
    out: list[_Slot] = []
    proposed = 0
    for slot in slots:
        if slot.actions and proposed + len(slot.actions) > MAX_ACTIONS_PER_TURN:
            slot = _Slot(
                slot.call_id,
                ready=_error(
                    f"more than {MAX_ACTIONS_PER_TURN} actions in one turn; this call was not run. "
                    "Propose fewer at a time."
                ),
            )
        proposed += len(slot.actions)
        out.append(slot)
    return out


def _render(slot: _Slot, results: dict[str, Result]) -> str:
    if slot.ready is not None:
        return slot.ready
    parts: list[str] = []
    for action in slot.actions:
        result = results[action.id]
        if isinstance(action, CommandAction):
            parts.append(command_text(action, result))
        elif isinstance(action, PatchAction):
            parts.append(patch_text(action, result))
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- resuming


@dataclass(frozen=True)
class Resumed:
    """A killed session's conversation: its messages after the system prompt (which is written
    anew from the session), the last assistant message's calls being answered next."""

    messages: tuple[dict[str, Any], ...]
    turn_id: str
    calls: tuple[_Call, ...]
    truncated: bool
    length_cut: bool
    action_ids: tuple[str, ...]

    @classmethod
    def from_checkpoints(cls, conversation: Sequence[Mapping[str, Any]]) -> Resumed | None:
        records = checkpoints(conversation, API)
        if not records:
            return None
        messages: list[dict[str, Any]] = []
        try:
            for rec in records:
                state = rec["state"]
                messages += [_table(m) for m in state["sent"]]
                messages.append(_table(state["assistant"]))
            last, turn_id = records[-1]["state"], str(records[-1]["turn_id"])
            calls = tuple(
                _Call(n, str(c["id"]), str(c["function"]["name"]), str(c["function"]["arguments"]))
                for n, c in enumerate(_table(last["assistant"]).get("tool_calls") or ())
            )
            ids = last["action_ids"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise TypeError("action_ids")
            return cls(
                tuple(messages),
                turn_id,
                calls,
                bool(last.get("truncated")),
                bool(last.get("length_cut")),
                tuple(ids),
            )
        except (KeyError, TypeError) as exc:
            raise ResumeMismatch(
                f"the interrupted session's conversation cannot be read back ({exc})"
            ) from None


def _table(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("a message is not a table")
    return value


# --------------------------------------------------------------------------- the link


class ChatLink(LinkBase):
    def __init__(
        self,
        task: str,
        *,
        client: openai.AsyncOpenAI,
        context: SessionContext,
        model: str,
        base_url: str,
        api_key: str = "",
        backoff: Backoff | None = None,
        max_turns: int = 200,
        resume: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """`resume`: the `agent-state` records of a killed session (`Recovery.conversation`);
        the link then takes that conversation up instead of starting on `task`."""
        super().__init__(secrets=(api_key,))
        self._resumed = Resumed.from_checkpoints(resume)
        self.task = task
        self.client = client
        self.context = context
        self.model = model
        self.max_turns = max_turns
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt(context, api="chat")},
            {"role": "user", "content": task},
        ]
        self._transport = Transport(
            model=model,
            base_url=base_url,
            backoff=backoff or Backoff(),
            status=self._status,
            secrets=(api_key,),
        )

    async def _run(self) -> None:
        resumed = self._resumed
        saved = 1  # messages already in a checkpoint (the system prompt is never stored)
        if resumed is not None:
            self.messages = [self.messages[0], *resumed.messages]
            saved = len(self.messages)
        for _ in range(self.max_turns):
            if resumed is None:
                self._status("thinking", self.model)
                try:
                    parser = await self._transport.stream(
                        lambda: self.client.chat.completions.with_streaming_response.create(
                            model=self.model,
                            messages=self.messages,  # type: ignore[arg-type]
                            tools=TOOLS,  # type: ignore[arg-type]
                            stream=True,
                        ),
                        lambda: ChatParser(self._emit),
                    )
                except LinkFatal:
                    return
                calls = parser.ordered_calls()
                message: dict[str, Any] = {"role": "assistant", "content": parser.content or None}
                if calls:
                    message["tool_calls"] = [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments},
                        }
                        for c in calls
                    ]
                self.messages.append(message)
                if not calls:
                    reason = parser.finish_reason
                    self._status(
                        "done", "" if reason in (None, "stop") else f"the model stopped ({reason})"
                    )
                    return
                turn_id = self.new_turn_id()
                truncated, length_cut = parser.truncated, parser.finish_reason == "length"
                slots = _capped(
                    [
                        _plan_call(c, turn_id, truncated=truncated, length_cut=length_cut)
                        for c in calls
                    ]
                )
                self._checkpoint(
                    API,
                    turn_id,
                    {
                        "sent": self.messages[saved:-1],
                        "assistant": message,
                        "truncated": truncated,
                        "length_cut": length_cut,
                        "action_ids": [a.id for s in slots for a in s.actions],
                    },
                )
                saved = len(self.messages)
            else:
                # Taken up after a crash: answer the last message's calls, under the same ids.
                turn_id = resumed.turn_id
                slots = _capped(
                    [
                        _plan_call(
                            c,
                            turn_id,
                            truncated=resumed.truncated,
                            length_cut=resumed.length_cut,
                        )
                        for c in resumed.calls
                    ]
                )
                slots = _renamed(slots, resumed.action_ids)
                resumed = None
            actions = [a for s in slots for a in s.actions]
            results: dict[str, Result] = {}
            if actions:
                got = await self._turn(turn_id, actions)
                results = {r.action_id: r for r in got}
            for slot in slots:
                self.messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": slot.call_id,
                        "content": _render(slot, results),
                    }
                )
        self._status("error", f"stopped after {self.max_turns} model turns")


def _renamed(slots: list[_Slot], ids: Sequence[str]) -> list[_Slot]:
    renamed = iter(with_ids([a for s in slots for a in s.actions], ids))
    return [dataclasses.replace(s, actions=tuple(next(renamed) for _ in s.actions)) for s in slots]
