"""From pipeline events to screen updates, without drowning the screen.

The pipeline calls `notify` for every event, on the event loop, and must never wait: the bridge
only writes down what changed and posts one `Changed` message. Messages of that kind replace each
other while they wait in the queue, so a burst of a thousand output chunks costs the screen one
repaint; the screen then `drain()`s everything that accumulated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from textual.message import Message
from textual.message_pump import MessagePump

from app.core.events import (
    ActionAssessed,
    ActionDecided,
    ActionProposed,
    ActionStateChanged,
    AgentEventSeen,
    AgentStatus,
    AgentText,
    ExecutionFinished,
    ExecutionStarted,
    OutputChunk,
    PipelineEvent,
    ResultsSent,
    VerdictGiven,
)
from app.core.model import Result
from app.injection.taint import TaintState
from app.ui.contract import SessionLike
from app.ui.untrusted import UntrustedContent


class Changed(Message):
    """Something in the pipeline changed; `ConsoleBridge.drain()` says what."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Changed)


OutputItem = (
    tuple[Literal["start"], str, str, float]  # action id, what runs, when (wall clock)
    | tuple[Literal["chunk"], str, Literal["stdout", "stderr"], bytes]
    | tuple[Literal["end"], Result, float]
)
"""Runs start and end with the wall-clock time the pipeline said so: the files pane credits a
file by its mtime, and the screen drains these a frame later."""


@dataclass
class Drained:
    """Everything that happened since the last drain, in order where order matters."""

    new_ids: list[str] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    output: list[OutputItem] = field(default_factory=list)
    # (kind, text); kind "turn" (no text) where the agent's next turn begins
    agent_text: list[tuple[str, str]] = field(default_factory=list)
    status: AgentStatus | None = None
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.new_ids
            or self.dirty
            or self.output
            or self.agent_text
            or self.status
            or self.started
            or self.finished
        )


class ConsoleBridge:
    """An `Observer` of the pipeline that feeds one screen."""

    def __init__(self, target: MessagePump) -> None:
        self._target = target
        self._pending = Drained()
        self._posted = False
        self.running: str | None = None
        self.events_seen = 0

    def notify(self, event: PipelineEvent) -> None:
        self.events_seen += 1
        pending = self._pending
        if isinstance(event, ActionProposed):
            pending.new_ids.append(event.action.id)
            pending.dirty.add(event.action.id)
        elif isinstance(event, ActionAssessed | ActionDecided | ActionStateChanged):
            pending.dirty.add(event.action_id)
        elif isinstance(event, VerdictGiven):
            pending.dirty.add(event.verdict.action_id)
        elif isinstance(event, ExecutionStarted):
            self.running = event.action_id
            pending.dirty.add(event.action_id)
            pending.started.append(event.action_id)
            pending.output.append(("start", event.action_id, event.ran, time.time()))
        elif isinstance(event, OutputChunk):
            pending.output.append(("chunk", event.action_id, event.stream, event.data))
        elif isinstance(event, ExecutionFinished):
            result = event.result
            if self.running == result.action_id:
                self.running = None
            pending.dirty.add(result.action_id)
            pending.finished.append(result.action_id)
            pending.output.append(("end", result, time.time()))
        elif isinstance(event, AgentEventSeen):
            inner = event.event
            if isinstance(inner, AgentText):
                pending.agent_text.append((inner.kind, inner.text))
            else:
                pending.status = inner
        elif isinstance(event, ResultsSent):
            pending.dirty.update(r.action_id for r in event.results)
            # The agent's next words answer these results: a new turn, a new paragraph.
            pending.agent_text.append(("turn", ""))
        if not self._posted:
            self._posted = True
            self._target.post_message(Changed())

    def drain(self) -> Drained:
        drained, self._pending = self._pending, Drained()
        self._posted = False
        return drained


class WatchChanged(Message):
    """The session's untrusted-content state or the model monitor's cost changed."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WatchChanged)


class WatchBridge:
    """Listens to the session's taint tracker and model monitor (their `listeners`; called on
    the pipeline's loop) and posts one coalescing `WatchChanged`. A taint state is taken in at
    once (`UntrustedContent.take`), so a mark cleared a moment later is still remembered."""

    def __init__(self, target: MessagePump, untrusted: UntrustedContent) -> None:
        self._target = target
        self._untrusted = untrusted

    def taint_changed(self, state: TaintState) -> None:
        self._untrusted.take(state)
        self._target.post_message(WatchChanged())

    def monitor_changed(self, _stats: object) -> None:
        self._target.post_message(WatchChanged())

    def attach(self, session: SessionLike) -> None:
        """Start listening to the session's tracker and monitor (whichever it has)."""
        if session.taint is not None:
            session.taint.listeners.append(self.taint_changed)
            self._untrusted.take(session.taint.state)
        if session.monitor is not None:
            session.monitor.listeners.append(self.monitor_changed)

    def detach(self, session: SessionLike) -> None:
        """The session may outlive the screen: stop listening to it."""
        taint, monitor = session.taint, session.monitor
        if taint is not None and self.taint_changed in taint.listeners:
            taint.listeners.remove(self.taint_changed)
        if monitor is not None and self.monitor_changed in monitor.listeners:
            monitor.listeners.remove(self.monitor_changed)
