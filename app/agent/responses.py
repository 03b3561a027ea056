"""The OpenAI Responses API link: the built-in `shell` and `apply_patch` tools, streamed.

One model response is one turn: each `shell_call` becomes one CommandAction per entry of
`action.commands` and each `apply_patch_call` one PatchAction; the results go back as
`shell_call_output` (stdout, stderr and outcome per command) and `apply_patch_call_output`
(completed/failed with a message), chained with `previous_response_id` — or, when the server
keeps no responses (zero data retention, store off), by sending the whole conversation with the
reasoning in its encrypted form.

Anything the model sends that cannot become an action (malformed arguments, an unknown tool, a
call cut off by the token limit) is answered with an error output in the same place, so the model
learns what went wrong and the conversation stays valid. Proposals are emitted only once the
response has finished streaming: a stream cut short is retried instead, and nothing half-seen is
ever shown to the reviewer.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
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
from app.agent.errors import Backoff, Failure, StreamCut, StreamFailed
from app.agent.outputs import patch_output, shell_output
from app.agent.prompt import system_prompt
from app.agent.sse import Frame, decode
from app.agent.transport import LinkFatal, Transport
from app.core.events import AgentEvent, AgentText
from app.core.model import Action, CommandAction, PatchAction, Result
from app.core.ports import SessionContext

TOOLS: list[dict[str, Any]] = [{"type": "shell"}, {"type": "apply_patch"}]
API = "responses"

_V4A_HEADERS = (
    "*** Begin Patch",
    "*** End Patch",
    "*** Add File:",
    "*** Delete File:",
    "*** Update File:",
    "*** Move to:",
)


# --------------------------------------------------------------------------- stream parsing


@dataclass
class ResponseParser:
    """Turns Responses API stream events into text events and the response's output items."""

    emit: Callable[[AgentEvent], None]
    response_id: str | None = None
    status: str = ""
    incomplete_reason: str = ""
    bad_frames: int = 0
    _done_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    _final: list[dict[str, Any]] | None = None
    _finished: bool = False

    @property
    def finished(self) -> bool:
        return self._finished

    def feed(self, frame: Frame) -> None:
        data = decode(frame)
        if data is None:
            if frame.data.strip() != "[DONE]":
                self.bad_frames += 1
            return
        kind = data.get("type")
        if not isinstance(kind, str):
            kind = frame.event or ""
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            delta = data.get("delta")
            if isinstance(delta, str) and delta:
                self.emit(AgentText(delta, "text"))
        elif kind == "response.reasoning_summary_text.delta":
            delta = data.get("delta")
            if isinstance(delta, str) and delta:
                self.emit(AgentText(delta, "reasoning"))
        elif kind == "response.reasoning_summary_part.done":
            self.emit(AgentText("\n", "reasoning"))
        elif kind in ("response.created", "response.in_progress"):
            self._take_id(data)
        elif kind == "response.output_item.done":
            item, index = data.get("item"), data.get("output_index")
            if isinstance(item, dict):
                key = index if isinstance(index, int) else len(self._done_items)
                self._done_items[key] = item
        elif kind in ("response.completed", "response.incomplete"):
            self._take_id(data)
            response = data.get("response")
            if isinstance(response, dict):
                self.status = str(response.get("status") or "")
                output = response.get("output")
                if isinstance(output, list) and all(isinstance(i, dict) for i in output):
                    self._final = output
                details = response.get("incomplete_details")
                if isinstance(details, dict):
                    self.incomplete_reason = str(details.get("reason") or "")
            if kind == "response.incomplete" and not self.incomplete_reason:
                self.incomplete_reason = "incomplete"
            self._finished = True
        elif kind == "response.failed":
            response = data.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            message, code = _error_fields(error, "the response failed")
            raise StreamFailed(message, code)
        elif kind == "error":
            message, code = _error_fields(data.get("error", data), "stream error")
            raise StreamFailed(message, code)

    def whole(self, body: dict[str, Any]) -> None:
        """A whole Response object: its text is shown, its output is the answer."""
        for item in body.get("output") or ():
            if isinstance(item, dict) and item.get("type") == "message":
                for part in item.get("content") or ():
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        self.emit(AgentText(part["text"], "text"))
        kind = "response.failed" if body.get("status") == "failed" else "response.completed"
        if body.get("status") == "incomplete":
            kind = "response.incomplete"
        self.feed(Frame(kind, json.dumps({"type": kind, "response": body})))

    def _take_id(self, data: dict[str, Any]) -> None:
        response = data.get("response")
        if isinstance(response, dict) and isinstance(response.get("id"), str):
            self.response_id = response["id"]

    def close(self) -> None:
        raise StreamCut(
            "no response.completed event arrived"
            + (f" ({self.bad_frames} unreadable frame(s))" if self.bad_frames else "")
        )

    def items(self) -> list[dict[str, Any]]:
        # Some compatible servers send an empty `output` in the completed event; the items
        # that finished during the stream are then the answer.
        if self._final:
            return self._final
        return [self._done_items[k] for k in sorted(self._done_items)]


def _error_fields(error: object, fallback: str) -> tuple[str, str | None]:
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        return (str(message) if message else fallback, str(code) if code else None)
    return fallback, None


# --------------------------------------------------------------------------- turn planning


@dataclass
class _Slot:
    """One output item owed to the model, in the order of the calls."""

    call_id: str
    kind: str  # "shell" | "patch" | "ready"
    actions: tuple[Action, ...] = ()
    max_output_length: int | None = None
    ready: dict[str, Any] | None = None  # an output built without running anything


def _shell_error(call_id: str, message: str) -> dict[str, Any]:
    return {
        "type": "shell_call_output",
        "call_id": call_id,
        "output": [
            {
                "stdout": "",
                "stderr": f"lockgate: {message}",
                "outcome": {"type": "exit", "exit_code": 2},
            }
        ],
    }


def _patch_error(call_id: str, message: str) -> dict[str, Any]:
    return {
        "type": "apply_patch_call_output",
        "call_id": call_id,
        "status": "failed",
        "output": f"lockgate: {message}",
    }


def operation_to_patch(operation: object) -> str:
    """An apply_patch operation as one V4A patch; ValueError says what is wrong with it.

    The diff may not carry file headers of its own: an operation names one file, and a diff that
    smuggled in another file's section would show the reviewer a different patch than the call.
    """
    if not isinstance(operation, dict):
        raise ValueError("apply_patch_call has no operation object")
    op, path = operation.get("type"), operation.get("path")
    if op not in ("create_file", "update_file", "delete_file"):
        raise ValueError(f"unknown apply_patch operation {op!r}")
    if not isinstance(path, str) or not path.strip() or "\n" in path:
        raise ValueError(f"{op} needs a one-line `path`")
    if op == "delete_file":
        return f"*** Begin Patch\n*** Delete File: {path}\n*** End Patch\n"
    diff = operation.get("diff")
    if not isinstance(diff, str):
        raise ValueError(f"{op} for {path} needs a `diff` string")
    for line in diff.splitlines():
        # Stripped: the patch engine reads markers with whitespace around them too.
        if line.strip().startswith(_V4A_HEADERS):
            raise ValueError(
                f"the diff for {path} contains a patch header ({line[:40]!r}); send one "
                "operation per file, with only its hunk lines"
            )
    if diff and not diff.endswith("\n"):
        diff += "\n"
    header = "Add File" if op == "create_file" else "Update File"
    return f"*** Begin Patch\n*** {header}: {path}\n{diff}*** End Patch\n"


def _unknown_tool(name: object) -> str:
    return f"lockgate: unknown tool {name!r}: the tools are `shell` and `apply_patch`. Nothing ran."


def _plan(items: Sequence[dict[str, Any]], turn_id: str) -> list[_Slot]:
    slots: list[_Slot] = []
    proposed = 0
    for item in items:
        kind = item.get("type")
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            continue  # nothing to answer; the server would not accept an output without an id
        if kind == "shell_call":
            slot = _plan_shell(item, call_id, turn_id)
        elif kind == "apply_patch_call":
            slot = _plan_patch(item, call_id, turn_id)
        elif kind == "function_call":
            slot = _Slot(
                call_id,
                "ready",
                ready={
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": _unknown_tool(item.get("name")),
                },
            )
        elif kind == "custom_tool_call":
            slot = _Slot(
                call_id,
                "ready",
                ready={
                    "type": "custom_tool_call_output",
                    "call_id": call_id,
                    "output": _unknown_tool(item.get("name")),
                },
            )
        elif kind == "local_shell_call":
            slot = _Slot(
                call_id,
                "ready",
                ready={
                    "type": "local_shell_call_output",
                    "id": call_id,
                    "output": _unknown_tool("local_shell"),
                },
            )
        else:
            continue  # prose, reasoning, server-side tools: nothing is owed
        if slot.actions and proposed + len(slot.actions) > MAX_ACTIONS_PER_TURN:
            # A flood of proposals would bury the reviewer; the model is told to pace itself.
            slot = _Slot(call_id, "ready", ready=_too_many(slot, call_id))
        proposed += len(slot.actions)
        slots.append(slot)
    return slots


def _too_many(slot: _Slot, call_id: str) -> dict[str, Any]:
    message = (
        f"more than {MAX_ACTIONS_PER_TURN} actions in one turn; this call was not run. "
        "Propose fewer at a time."
    )
    if slot.kind == "shell":
        return _shell_error(call_id, message)
    return _patch_error(call_id, message)


def _plan_shell(item: dict[str, Any], call_id: str, turn_id: str) -> _Slot:
    if item.get("status") == "incomplete":
        return _Slot(
            call_id,
            "ready",
            ready=_shell_error(
                call_id,
                "this shell call was cut off before it was complete; nothing ran. Send it again.",
            ),
        )
    action = item.get("action")
    commands = action.get("commands") if isinstance(action, dict) else None
    if (
        not isinstance(commands, list)
        or not commands
        or not all(isinstance(c, str) and c.strip() for c in commands)
    ):
        return _Slot(
            call_id,
            "ready",
            ready=_shell_error(
                call_id,
                "malformed shell call: `action.commands` must be a non-empty list of "
                "command strings; nothing ran.",
            ),
        )
    assert isinstance(action, dict)
    timeout_s: float | None = None
    timeout_ms = action.get("timeout_ms")
    if isinstance(timeout_ms, int | float) and not isinstance(timeout_ms, bool) and timeout_ms > 0:
        timeout_s = float(timeout_ms) / 1000.0
    max_len = action.get("max_output_length")
    max_output = (
        max_len
        if isinstance(max_len, int) and not isinstance(max_len, bool) and max_len > 0
        else None
    )
    actions = tuple(
        CommandAction(command=c, turn_id=turn_id, timeout_s=timeout_s, call_id=call_id)
        for c in commands
    )
    return _Slot(call_id, "shell", actions=actions, max_output_length=max_output)


def _plan_patch(item: dict[str, Any], call_id: str, turn_id: str) -> _Slot:
    if item.get("status") == "incomplete":
        return _Slot(
            call_id,
            "ready",
            ready=_patch_error(
                call_id,
                "this apply_patch call was cut off before it was complete; nothing changed.",
            ),
        )
    try:
        text = operation_to_patch(item.get("operation"))
    except ValueError as exc:
        return _Slot(
            call_id,
            "ready",
            ready=_patch_error(call_id, f"malformed apply_patch call: {exc}; nothing changed."),
        )
    return _Slot(
        call_id,
        "patch",
        actions=(PatchAction(patch=text, turn_id=turn_id, format="v4a", call_id=call_id),),
    )


def _render(slots: Sequence[_Slot], results: dict[str, Result]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for slot in slots:
        if slot.ready is not None:
            out.append(slot.ready)
        elif slot.kind == "shell":
            entries = []
            for action in slot.actions:
                assert isinstance(action, CommandAction)
                entries.append(
                    shell_output(
                        action, results[action.id], max_chars=slot.max_output_length
                    ).as_responses()
                )
            item: dict[str, Any] = {
                "type": "shell_call_output",
                "call_id": slot.call_id,
                "output": entries,
            }
            if slot.max_output_length is not None:
                item["max_output_length"] = slot.max_output_length
            out.append(item)
        else:
            (action,) = slot.actions
            assert isinstance(action, PatchAction)
            ok, text = patch_output(action, results[action.id])
            out.append(
                {
                    "type": "apply_patch_call_output",
                    "call_id": slot.call_id,
                    "status": "completed" if ok else "failed",
                    "output": text,
                }
            )
    return out


# --------------------------------------------------------------------------- resuming


@dataclass(frozen=True)
class Resumed:
    """A killed session's conversation, rebuilt from its checkpoints: everything said so far, and
    the last response, whose calls are answered next (turn `turn_id`, actions `action_ids`)."""

    history: tuple[dict[str, Any], ...]
    response_id: str | None
    replay: bool
    turn_id: str
    output: tuple[dict[str, Any], ...]
    action_ids: tuple[str, ...]

    @classmethod
    def from_checkpoints(cls, conversation: Sequence[Mapping[str, Any]]) -> Resumed | None:
        """Each checkpoint holds what its request sent and what the response said; together they
        are the whole conversation. ResumeMismatch when they cannot be read back."""
        records = checkpoints(conversation, API)
        if not records:
            return None
        history: list[dict[str, Any]] = []
        try:
            for rec in records:
                state = rec["state"]
                history += [_item(i) for i in state["sent"]]
                history += [_item(i) for i in state["output"]]
            last, turn_id = records[-1]["state"], str(records[-1]["turn_id"])
            response_id = last.get("response_id")
            ids = last["action_ids"]
            if response_id is not None and not isinstance(response_id, str):
                raise TypeError("response_id")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise TypeError("action_ids")
            return cls(
                tuple(history),
                response_id,
                bool(last.get("replay")),
                turn_id,
                tuple(_item(i) for i in last["output"]),
                tuple(ids),
            )
        except (KeyError, TypeError) as exc:
            raise ResumeMismatch(
                f"the interrupted session's conversation cannot be read back ({exc})"
            ) from None


def _item(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("an input item is not a table")
    return value


# --------------------------------------------------------------------------- the link


class ResponsesLink(LinkBase):
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
        reasoning_summary: bool = True,
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
        self._reasoning = reasoning_summary
        # Everything said so far, for servers that keep no state (zero data retention, store
        # off, or compatible servers without `previous_response_id`): then the whole
        # conversation is sent each turn, reasoning included in its encrypted form.
        self._history: list[dict[str, Any]] = []
        self._replay = False
        self._sent_previous = False
        self._transport = Transport(
            model=model,
            base_url=base_url,
            backoff=backoff or Backoff(),
            status=self._status,
            secrets=(api_key,),
        )

    def _body(self, inputs: list[dict[str, Any]], previous: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "instructions": system_prompt(self.context, api="responses"),
            "input": self._history if self._replay else inputs,
            "tools": TOOLS,
        }
        if self._replay:
            body["store"] = False
            body["include"] = ["reasoning.encrypted_content"]
        elif previous:
            body["previous_response_id"] = previous
        self._sent_previous = bool(previous) and not self._replay
        if self._reasoning:
            body["reasoning"] = {"summary": "auto"}
        return body

    def _start(
        self, inputs: list[dict[str, Any]], previous: str | None
    ) -> AbstractAsyncContextManager[Any]:
        return self.client.responses.with_streaming_response.create(
            **self._body(inputs, previous), stream=True
        )

    def _adjust(self, failure: Failure) -> bool:
        if failure.kind not in ("bad-request", "model"):  # 404 is classified as "model"
            return False
        message = failure.message.lower()
        # A server that keeps no responses, or no longer has this one (a session resumed after a
        # crash, say): send the whole conversation instead of a reference.
        names_previous = "previous_response" in message or "previous response" in message
        if (
            not self._replay
            and self._sent_previous
            and (names_previous or failure.status_code == 404)
        ):
            self._replay = True
            return True
        # Models without reasoning reject the summary parameter; ask once more without it.
        if self._reasoning and "reasoning" in message:
            self._reasoning = False
            return True
        return False

    async def _run(self) -> None:
        inputs: list[dict[str, Any]] = [{"role": "user", "content": self.task}]
        self._history = list(inputs)
        previous: str | None = None
        resumed = self._resumed
        if resumed is not None:
            self._history = list(resumed.history)
            previous, self._replay = resumed.response_id, resumed.replay
        for _ in range(self.max_turns):
            if resumed is None:
                self._status("thinking", self.model)
                try:
                    parser = await self._transport.stream(
                        functools.partial(self._start, inputs, previous),
                        lambda: ResponseParser(self._emit),
                        adjust=self._adjust,
                    )
                except LinkFatal:
                    return
                previous = parser.response_id
                output = [_as_input(item) for item in parser.items()]
                self._history.extend(output)
                turn_id = self.new_turn_id()
                slots = _plan(output, turn_id)
                if not slots:
                    reason = parser.incomplete_reason
                    self._status("done", f"the model stopped ({reason})" if reason else "")
                    return
                if previous is None and not self._replay:
                    self._status("error", "the server sent tool calls without a response id")
                    return
                self._checkpoint(
                    API,
                    turn_id,
                    {
                        "sent": inputs,
                        "output": output,
                        "response_id": previous,
                        "replay": self._replay,
                        "action_ids": [a.id for s in slots for a in s.actions],
                    },
                )
            else:
                # Taken up after a crash: answer the last response's calls, under the same ids.
                turn_id = resumed.turn_id
                slots = _renamed(_plan(resumed.output, turn_id), resumed.action_ids)
                resumed = None
            actions = [a for s in slots for a in s.actions]
            results: dict[str, Result] = {}
            if actions:
                got = await self._turn(turn_id, actions)
                results = {r.action_id: r for r in got}
            inputs = _render(slots, results)
            self._history.extend(inputs)
        self._status("error", f"stopped after {self.max_turns} model turns")


def _renamed(slots: list[_Slot], ids: Sequence[str]) -> list[_Slot]:
    renamed = iter(with_ids([a for s in slots for a in s.actions], ids))
    return [dataclasses.replace(s, actions=tuple(next(renamed) for _ in s.actions)) for s in slots]


_OUTPUT_ONLY_KEYS = frozenset({"created_by"})


def _as_input(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as the next request's input item (the API takes them back as they are,
    less the fields only the server sets)."""
    return {k: v for k, v in item.items() if k not in _OUTPUT_ONLY_KEYS}
