"""`AcpLink`: an ACP agent (a child process speaking JSON-RPC on stdio, through the official
`agent-client-protocol` SDK) as an `AgentLink`.

The pipeline thinks in turns: proposals, then their results in order. ACP agents ask one request
at a time (sometimes several at once) and wait for each answer. So every request that needs a
decision becomes an action, and requests that arrive together are proposed as one turn (batched):
`_submit()` queues them; one task at a time turns what is queued into a turn and hands each
request its own result.

    fs/write_text_file      -> PatchAction (the whole-file write as a unified diff)
    fs/read_text_file       -> CommandAction `cat -- PATH` (judged as a cat; answered by a read)
    terminal/create         -> CommandAction (runs in the session's sandbox; the agent polls it)
    session/request_permission -> the tool call as a command or patch; the verdict picks the option
    overlay changes (jailed)   -> PatchAction, at each permission request, each completed tool
                                  call and each end of turn; denied ones are rolled back
    session/update          -> AgentText / AgentStatus

A denial with feedback answers the request with a rejection and sends the feedback to the agent
as the next user message once its turn ends. Every text an agent sends is untrusted; the
console's safe rendering shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from acp import PROTOCOL_VERSION, Client, RequestError, text_block
from acp.client.connection import ClientSideConnection
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AllowedOutcome,
    AvailableCommandsUpdate,
    ClientCapabilities,
    CreateTerminalResponse,
    CurrentModeUpdate,
    DeniedOutcome,
    EnvVariable,
    FileEditToolCallContent,
    FileSystemCapabilities,
    Implementation,
    KillTerminalResponse,
    PermissionOption,
    ReadTextFileResponse,
    ReleaseTerminalResponse,
    RequestPermissionResponse,
    TerminalExitStatus,
    TerminalOutputResponse,
    ToolCallProgress,
    ToolCallStart,
    ToolCallUpdate,
    WaitForTerminalExitResponse,
    WriteTextFileResponse,
)

from app import __version__
from app.agent.acp.diffs import FileChange, unified, unified_all
from app.agent.acp.items import AcpItems, ReadItem, TerminalState
from app.agent.acp.overlay import OverlayScan, read_real, roll_back, scan, sync_in
from app.agent.acp.process import AgentProcess, Spawner
from app.agent.acp.transport import NdjsonTransport
from app.agent.base import LinkBase, StatusState
from app.core.events import AgentText
from app.core.model import (
    Action,
    CommandAction,
    PatchAction,
    Result,
    ResultStatus,
    VerdictKind,
)

INIT_TIMEOUT_S = 60.0
MAX_FOLLOW_UPS = 4  # feedback / rollback notes sent back as user messages, per session
STDERR_KEEP = 20
FULL_ACCESS_MODES = ("full-access",)
"""Modes in which an agent trusts the sandbox it runs in instead of making its own (codex-acp's
bubblewrap cannot nest inside lockgate's jail). Chosen only when the agent is jailed."""


@dataclass(frozen=True)
class Overlay:
    """The jailed agent's copy-on-write workspace: the upper layer and the agent's view."""

    upper: Path
    merged: Path  # the workspace as the agent sees it (through the jail's root)


@dataclass
class _Pending:
    actions: tuple[Action, ...]
    done: asyncio.Future[tuple[Result, ...]] = field(repr=False)


class AcpLink(LinkBase):
    def __init__(
        self,
        prompt: str,
        *,
        spawn: Spawner,
        workspace: Path,
        items: AcpItems,
        overlay: Overlay | None = None,
        headless: bool = False,
        secrets: Sequence[str] = (),
        label: str = "agent",
    ) -> None:
        super().__init__(secrets=secrets)
        # The SDK logs what it cannot handle (an unknown notification, a failed handler) with
        # tracebacks; with no handler configured Python would print them over the console.
        # Each such problem is already answered on the wire or shown as one line here.
        root = logging.getLogger()
        if not root.handlers:
            root.addHandler(logging.NullHandler())
        self._prompt = prompt
        self._spawn = spawn
        self.workspace = workspace
        self.items = items
        self.overlay = overlay
        self.headless = headless
        self.label = label
        self.init_timeout_s = INIT_TIMEOUT_S  # for initialize and session/new
        self.stop_reason: str | None = None  # of the last prompt turn
        self.problems: list[str] = []  # one line each, also shown as status
        self.summary: list[str] = []  # one line per request answered (headless summary)
        self._queue_in: list[_Pending] = []
        self._wake = asyncio.Event()
        self._notes: list[str] = []  # told to the agent as the next user message
        self._follow_ups = 0
        self._terminal_ids = itertools.count(1)
        self._by_terminal: dict[str, TerminalState] = {}
        self._proc: AgentProcess | None = None
        self._conn: ClientSideConnection | None = None
        self._session_id = ""
        self._stderr_tail: list[str] = []
        self._mode = ""
        self._commands: list[str] = []
        self._tools: dict[str, str] = {}
        self._last_status: tuple[StatusState, str] = ("thinking", "")
        self._overlay_lock = asyncio.Lock()
        self.finished = False  # the conversation is over (follow-ups included)
        self._prompting = False  # a session/prompt is in flight (cancel tells the agent)

    # ------------------------------------------------------------------ the conversation

    async def _run(self) -> None:
        self._status("thinking", f"starting {self.label}")
        try:
            self._proc = await self._spawn()
        except Exception as exc:
            self._status("error", f"cannot start the agent: {exc}")
            return
        transport = NdjsonTransport(self._proc.stdout, self._proc.stdin, on_problem=self._problem)
        conn = ClientSideConnection(cast(Client, _Client(self)), transport)
        self._conn = conn
        tasks = [
            asyncio.create_task(self._drain_stderr(), name="acp-stderr"),
            asyncio.create_task(self._turn_runner(), name="acp-turns"),
        ]
        try:
            await self._converse(conn)
        except (ConnectionError, asyncio.IncompleteReadError, BrokenPipeError) as exc:
            self._status("error", self._gone(exc))
        except RequestError as exc:
            hint = ""
            if exc.code == -32000:  # auth_required
                hint = " (log the agent in first; its credentials reach the jail only through "
                hint += "--agent-read and --agent-env)"
            self._status("error", f"the agent answered with an error: {exc}{hint}")
        except TimeoutError:
            self._status(
                "error", f"the agent did not answer initialize within {self.init_timeout_s:g} s"
            )
        finally:
            await self._shutdown(conn, tasks)

    async def _converse(self, conn: ClientSideConnection) -> None:
        init = await asyncio.wait_for(
            conn.initialize(
                protocol_version=PROTOCOL_VERSION,
                client_capabilities=ClientCapabilities(
                    fs=FileSystemCapabilities(read_text_file=True, write_text_file=True),
                    terminal=True,
                ),
                client_info=Implementation(name="lockgate", title="lockgate", version=__version__),
            ),
            self.init_timeout_s,
        )
        info = init.agent_info
        if info is not None:
            self.label = f"{info.name} {info.version}".strip()
        session = await asyncio.wait_for(
            conn.new_session(cwd=str(self.workspace), mcp_servers=[]), self.init_timeout_s
        )
        self._session_id = session.session_id
        modes = session.modes
        if modes is not None:
            self._mode = modes.current_mode_id
            if self.overlay is not None:
                for mode in modes.available_modes:
                    if mode.id in FULL_ACCESS_MODES and mode.id != modes.current_mode_id:
                        await conn.set_session_mode(session_id=self._session_id, mode_id=mode.id)
                        self._mode = mode.id
                        break
        self._header()
        prompt = self._prompt
        while True:
            self._status("thinking", f"{self.label}: working")
            self._prompting = True
            response = await conn.prompt(session_id=self._session_id, prompt=[text_block(prompt)])
            self._prompting = False
            self.stop_reason = str(response.stop_reason)
            await self._review_overlay("end of turn")
            if not self._notes or self._follow_ups >= MAX_FOLLOW_UPS:
                break
            self._follow_ups += 1
            prompt = "lockgate (the reviewer in front of you):\n" + "\n".join(self._notes)
            self._notes.clear()
            self.summary.append("follow-up: the reviewer's notes sent to the agent")
        self.finished = True
        self._status("done", f"{self.label}: turn ended ({self.stop_reason})")

    async def _shutdown(self, conn: ClientSideConnection, tasks: list[asyncio.Task[Any]]) -> None:
        """Cancelled (q, ctrl-c) or done: tell the agent, then stop it and all it started. This
        runs to its end even if the link is cancelled again meanwhile (quitting cancels it more
        than once): nothing of the agent may outlive the console."""
        body = asyncio.ensure_future(self._shutdown_body(conn, tasks))
        while not body.done():
            try:
                await asyncio.shield(body)
            except asyncio.CancelledError:
                continue
            except Exception:
                break

    async def _shutdown_body(
        self, conn: ClientSideConnection, tasks: list[asyncio.Task[Any]]
    ) -> None:
        if self._session_id and self._prompting:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.cancel(session_id=self._session_id), 0.5)
        for term in self._by_terminal.values():
            self._kill_terminal(term)
        if self._proc is not None:
            with contextlib.suppress(Exception):
                await self._proc.stop()
        for pending in self._queue_in:
            if not pending.done.done():
                pending.done.cancel()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 1.0)

    def terminate(self) -> None:
        """Kill the agent and everything it started, now, without an event loop: the last
        guarantee when the console ends before the link could stop it in order."""
        if self._proc is not None:
            self._proc.kill_now()

    def _gone(self, exc: BaseException) -> str:
        how = self._proc.exit_description() if self._proc is not None else ""
        tail = next((ln for ln in reversed(self._stderr_tail) if ln.strip()), "")
        text = f"the agent {how or 'closed the connection'}"
        if tail:
            text += f": {tail[:200]}"
        return text

    async def _drain_stderr(self) -> None:
        assert self._proc is not None
        reader = self._proc.stderr
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a line over the stream limit: skip what is buffered
                with contextlib.suppress(Exception):
                    await reader.read(1 << 20)
                continue
            except Exception:
                return
            if not line:
                return
            self._stderr_tail.append(line.decode("utf-8", errors="replace").rstrip()[:500])
            del self._stderr_tail[:-STDERR_KEEP]

    def _problem(self, text: str) -> None:
        self.problems.append(text)
        self._status("error" if not self._session_id else "thinking", text)

    def _header(self) -> None:
        """The mode or the commands changed: say the last status again with them."""
        state, detail = self._last_status
        self._status(state, detail)

    def _status(self, state: StatusState, detail: str = "") -> None:
        """Every status line keeps the agent's mode and its commands (ACP's
        `current_mode_update` / `available_commands_update`) in the header; an error's reason
        comes first so it is never cut."""
        self._last_status = (state, detail)
        parts = [detail] if detail else []
        if self._mode:
            parts.append(f"mode {self._mode}")
        if self._commands:
            shown = " ".join("/" + c for c in self._commands[:6])
            more = f" +{len(self._commands) - 6}" if len(self._commands) > 6 else ""
            parts.append(f"{shown}{more}")
        super()._status(state, " · ".join(parts))

    # ------------------------------------------------------------------ turns

    async def _submit(self, actions: Sequence[Action]) -> tuple[Result, ...]:
        loop = asyncio.get_running_loop()
        pending = _Pending(tuple(actions), loop.create_future())
        self._queue_in.append(pending)
        self._wake.set()
        return await pending.done

    async def _turn_runner(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # requests that arrive together go in one turn
            batch, self._queue_in = self._queue_in, []
            batch = [p for p in batch if not p.done.done()]
            if not batch:
                continue
            actions = [a for p in batch for a in p.actions]
            turn_id = actions[0].turn_id
            try:
                results = await self._turn(turn_id, [_retarget(a, turn_id) for a in actions])
                by_id = {r.action_id: r for r in results}
                answers = [tuple(by_id[a.id] for a in p.actions) for p in batch]
            except BaseException as exc:
                # never leave a request waiting forever: each one fails with the reason
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(ConnectionError(f"lockgate stopped: {exc!r}"))
                raise
            for p, answer in zip(batch, answers, strict=True):
                if not p.done.done():
                    p.done.set_result(answer)
            self._status("thinking", f"{self.label}: working")

    async def _decide(self, action: Action) -> Result:
        return (await self._submit([action]))[0]

    # ------------------------------------------------------------------ overlay review

    async def _review_overlay(
        self, when: str, *, with_: Sequence[Action] = ()
    ) -> tuple[Result, ...]:
        """Propose the overlay's changes (if any) as one patch, together with `with_`; returns
        the results of `with_`."""
        overlay = self.overlay
        if overlay is None:
            return await self._submit(with_) if with_ else ()
        # One review of the overlay at a time: a change still waiting for its verdict must not
        # be proposed again, and the next scan must see what the last verdict rolled back.
        async with self._overlay_lock:
            return await self._review_overlay_locked(overlay, when, with_)

    async def _review_overlay_locked(
        self, overlay: Overlay, when: str, with_: Sequence[Action]
    ) -> tuple[Result, ...]:
        found: OverlayScan = await asyncio.to_thread(scan, overlay.upper, self.workspace)
        for note in found.notes:
            if f"overlay: {note}" not in self.summary:
                self.summary.append(f"overlay: {note}")
        # One patch per file, proposed together: each is judged and decided on its own.
        patches = [
            PatchAction(
                patch=unified(change),
                turn_id=self.new_turn_id(),
                format="unified",
                justification=f"what the agent changed in its copy-on-write workspace ({when})",
                call_id="acp-overlay",
            )
            for change in found.changes
        ]
        for patch, change in zip(patches, found.changes, strict=True):
            self.items.patch_contents[patch.id] = ((change.rel, change.new),)
        actions: list[Action] = [*patches, *with_]
        if not actions:
            return ()
        results = await self._submit(actions)
        for change, result in zip(found.changes, results, strict=False):
            await self._settle_overlay([change], result)
        return results[len(patches) :]

    async def _settle_overlay(self, changes: list[FileChange], result: Result) -> None:
        assert self.overlay is not None
        names = ", ".join(c.rel for c in changes[:5]) + (" …" if len(changes) > 5 else "")
        if result.status is ResultStatus.COMPLETED:
            self.summary.append(f"overlay: applied {names}")
            return
        failed = await asyncio.to_thread(roll_back, changes, self.overlay.merged)
        why = result.feedback or result.message or result.status.value
        self.summary.append(f"overlay: rolled back {names} ({result.status.value})")
        note = f"Your changes to {names} were not accepted and were undone: {why}"
        if failed:
            note += f" (could not undo: {'; '.join(failed)})"
        self._notes.append(note)

    # ------------------------------------------------------------------ requests

    def rel(self, path: str) -> str | None:
        p = Path(path)
        if not p.is_absolute():
            p = self.workspace / p
        try:
            rel = Path(*Path(p.as_posix()).parts).relative_to(self.workspace)
        except ValueError:
            return None
        if ".." in rel.parts or not rel.parts:
            return None
        return rel.as_posix()

    async def write_file(self, path: str, content: str) -> WriteTextFileResponse:
        rel = self.rel(path)
        if rel is None:
            self.summary.append(f"write {path}: refused (outside the workspace)")
            raise _error(f"{path}: outside the workspace; lockgate refuses to write there")
        exists, old = read_real(self.workspace, rel)  # never through a symlink
        if exists and old is None:
            raise _error(f"{rel}: not a text file lockgate can show as a diff (or a symlink)")
        if old == content:
            return WriteTextFileResponse()
        diff = unified(FileChange(rel, "modify" if old is not None else "add", old, content))
        action = PatchAction(
            patch=diff,
            turn_id=self.new_turn_id(),
            format="unified",
            justification="fs/write_text_file",
            call_id="acp-write",
        )
        self.items.patch_contents[action.id] = ((rel, content),)
        result = await self._decide(action)
        self.summary.append(f"write {rel}: {_word(result)}")
        if result.status is not ResultStatus.COMPLETED:
            raise _error(_refusal(result))
        if self.overlay is not None:
            error = await asyncio.to_thread(sync_in, rel, content, self.overlay.merged)
            if error:
                self._problem(f"written to the workspace, but not into the agent's view: {error}")
        return WriteTextFileResponse()

    async def read_file(
        self, path: str, line: int | None, limit: int | None
    ) -> ReadTextFileResponse:
        p = Path(path) if Path(path).is_absolute() else self.workspace / path
        rel = self.rel(str(p))
        shown = rel if rel is not None else str(p)
        command = f"cat -- {shlex.quote(shown)}"
        if line is not None or limit is not None:
            start = max(1, line or 1)
            end = "$" if limit is None else str(start + max(0, limit) - 1)
            command = f"sed -n {shlex.quote(f'{start},{end}p')} -- {shlex.quote(shown)}"
        action = CommandAction(
            command=command,
            turn_id=self.new_turn_id(),
            justification="fs/read_text_file",
            call_id="acp-read",
        )
        self.items.reads[action.id] = ReadItem(p, rel, line, limit)
        result = await self._decide(action)
        self.summary.append(f"read {shown}: {_word(result)}")
        if result.status is ResultStatus.COMPLETED and "No such file" in result.message:
            raise RequestError.resource_not_found(str(p))  # agents tell a new file by this
        if result.status is not ResultStatus.COMPLETED or result.exit_code != 0:
            raise _error(_refusal(result))
        return ReadTextFileResponse(content=result.stdout.decode("utf-8", errors="replace"))

    async def create_terminal(
        self,
        command: str,
        args: list[str] | None,
        env: list[EnvVariable] | None,
        cwd: str | None,
        limit: int | None,
    ) -> CreateTerminalResponse:
        text = shlex.join([command, *args]) if args else command
        if env:
            text = " ".join(f"{e.name}={shlex.quote(e.value)}" for e in env) + " " + text
        rel_cwd: str | None = None
        if cwd:
            rel_cwd = self.rel(cwd) if Path(cwd) != self.workspace else None
            if rel_cwd is None and Path(cwd) != self.workspace:
                raise _error(f"cwd {cwd}: outside the workspace")
        action = CommandAction(
            command=text,
            turn_id=self.new_turn_id(),
            cwd=rel_cwd,
            justification="terminal/create",
            call_id="acp-terminal",
        )
        term = TerminalState(f"term-{next(self._terminal_ids)}", action.id, limit)
        self.items.terminals[action.id] = term
        decided = asyncio.ensure_future(self._decide(action))
        started = asyncio.ensure_future(term.started.wait())
        try:
            await asyncio.wait({decided, started}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
        if not term.started.is_set():
            result = decided.result()
            self.summary.append(f"terminal {_short(text)}: {_word(result)}")
            raise _error(_refusal(result))
        self._by_terminal[term.terminal_id] = term

        def note(f: asyncio.Future[Result]) -> None:
            if not f.cancelled() and f.exception() is None:
                self.summary.append(f"terminal {_short(text)}: {_word(f.result())}")

        decided.add_done_callback(note)
        return CreateTerminalResponse(terminal_id=term.terminal_id)

    def terminal(self, terminal_id: str) -> TerminalState:
        term = self._by_terminal.get(terminal_id)
        if term is None:
            raise RequestError.invalid_params({"details": f"no terminal {terminal_id!r}"})
        return term

    def terminal_output(self, terminal_id: str) -> TerminalOutputResponse:
        term = self.terminal(terminal_id)
        status = _exit_status(term) if term.done.is_set() else None
        return TerminalOutputResponse(
            output=term.text(), truncated=term.truncated, exit_status=status
        )

    async def wait_terminal(self, terminal_id: str) -> WaitForTerminalExitResponse:
        term = self.terminal(terminal_id)
        await term.done.wait()
        return WaitForTerminalExitResponse(exit_code=term.exit_code, signal=term.signal)

    def _kill_terminal(self, term: TerminalState) -> None:
        if term.task is not None and not term.task.done():
            term.killed = True
            term.task.cancel()

    def kill_terminal(self, terminal_id: str) -> KillTerminalResponse:
        self._kill_terminal(self.terminal(terminal_id))
        return KillTerminalResponse()

    def release_terminal(self, terminal_id: str) -> ReleaseTerminalResponse:
        term = self.terminal(terminal_id)
        self._kill_terminal(term)
        del self._by_terminal[terminal_id]
        return ReleaseTerminalResponse()

    async def request_permission(
        self, tool_call: ToolCallUpdate, options: list[PermissionOption]
    ) -> RequestPermissionResponse:
        action, opaque = self._permission_action(tool_call)
        self.items.permissions.add(action.id)
        if opaque:
            self.items.opaque.add(action.id)
        results = await self._review_overlay("permission request", with_=[action])
        result = results[0]
        verdict = self.items.verdicts.get(action.id)
        title = tool_call.title or tool_call.kind or "tool call"
        if result.status is ResultStatus.COMPLETED:
            for rel, text in self.items.patch_contents.pop(action.id, ()):
                if text is not None:
                    self.items.approved_writes[rel] = text
            kinds = ("allow_once", "allow_always")
            if verdict is not None and verdict.kind in (
                VerdictKind.APPROVE_ALWAYS,
                VerdictKind.APPROVE_SESSION,
            ):
                kinds = ("allow_always", "allow_once")
        else:
            kinds = ("reject_once", "reject_always")
            if verdict is not None and verdict.kind is VerdictKind.DENY_FEEDBACK:
                self._notes.append(f"About {title!r}: {verdict.feedback or result.feedback}")
        chosen = _pick(options, kinds)
        self.summary.append(f"permission {_short(title)}: {chosen.kind if chosen else 'cancelled'}")
        if chosen is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=chosen.option_id)
        )

    def _permission_action(self, call: ToolCallUpdate) -> tuple[Action, bool]:
        turn = self.new_turn_id()
        why = f"permission request: {call.title or ''} ({call.kind or 'other'})".strip()
        diffs = [c for c in call.content or [] if isinstance(c, FileEditToolCallContent)]
        if diffs:
            changes = []
            for d in diffs:
                rel = self.rel(d.path) or d.path.lstrip("/")
                changes.append(
                    FileChange(
                        rel, "modify" if d.old_text is not None else "add", d.old_text, d.new_text
                    )
                )
            text = unified_all(changes)
            if text:
                action = PatchAction(
                    patch=text, turn_id=turn, format="unified", justification=why,
                    call_id=call.tool_call_id,
                )  # fmt: skip
                self.items.patch_contents[action.id] = tuple((c.rel, c.new) for c in changes)
                return action, False
        command = _command_of(call)
        if command:
            return CommandAction(
                command=command, turn_id=turn, justification=why, call_id=call.tool_call_id
            ), False
        title = " ".join((call.title or "").split()) or "(no title)"
        locations = " ".join(shlex.quote(loc.path) for loc in call.locations or [])
        text = f"# ACP permission ({call.kind or 'other'}): {title}" + (
            f" — {locations}" if locations else ""
        )
        return CommandAction(
            command=text, turn_id=turn, justification=why, call_id=call.tool_call_id
        ), True

    # ------------------------------------------------------------------ updates

    async def update(self, update: Any) -> None:
        if isinstance(update, AgentMessageChunk | AgentThoughtChunk):
            block = update.content
            text = getattr(block, "text", None)
            if text is None:
                text = f"[{getattr(block, 'type', 'content')}]"
            if isinstance(update, AgentThoughtChunk):
                self._emit(AgentText(text, "reasoning"))
            else:
                self._emit(AgentText(text, "text"))
        elif isinstance(update, AgentPlanUpdate):
            marks = {"completed": "[x]", "in_progress": "[~]", "pending": "[ ]"}
            lines = [f"{marks.get(str(e.status), '[ ]')} {e.content}" for e in update.entries]
            self._emit(AgentText("\nplan:\n" + "\n".join(lines) + "\n"))
        elif isinstance(update, ToolCallStart | ToolCallProgress):
            title = update.title or self._tools.get(update.tool_call_id, update.tool_call_id)
            self._tools[update.tool_call_id] = title
            status = str(update.status or ("pending" if isinstance(update, ToolCallStart) else ""))
            if status:
                self._emit(AgentText(f"\n⋯ {update.kind or 'tool'}: {title} — {status}\n"))
            if isinstance(update, ToolCallProgress) and status == "completed":
                await self._review_overlay("tool call completed")
        elif isinstance(update, AvailableCommandsUpdate):
            self._commands = [c.name for c in update.available_commands]
            self._header()
        elif isinstance(update, CurrentModeUpdate):
            self._mode = update.current_mode_id
            self._header()


def _retarget(action: Action, turn_id: str) -> Action:
    import dataclasses

    return action if action.turn_id == turn_id else dataclasses.replace(action, turn_id=turn_id)


def _command_of(call: ToolCallUpdate) -> str:
    raw = call.raw_input
    if isinstance(raw, dict):
        cmd = raw.get("command") or raw.get("cmd")
        if isinstance(cmd, list) and all(isinstance(x, str) for x in cmd):
            if len(cmd) >= 3 and cmd[0] in ("bash", "sh", "/bin/bash", "/bin/sh") and cmd[1] in (
                "-c", "-lc",
            ):  # fmt: skip
                return cmd[2]
            return shlex.join(cmd)
        if isinstance(cmd, str) and cmd.strip():
            return cmd
    if str(call.kind) == "execute" and call.title:
        return call.title.strip().strip("`")
    return ""


def _pick(options: list[PermissionOption], kinds: tuple[str, ...]) -> PermissionOption | None:
    for kind in kinds:
        for option in options:
            if str(option.kind) == kind:
                return option
    return None


def _exit_status(term: TerminalState) -> TerminalExitStatus:
    return TerminalExitStatus(exit_code=term.exit_code, signal=term.signal)


def _word(result: Result) -> str:
    if result.status is ResultStatus.COMPLETED:
        return "done" if result.exit_code in (0, None) else f"exit {result.exit_code}"
    return result.status.value


def _refusal(result: Result) -> str:
    if result.status is ResultStatus.DENIED:
        text = "the reviewer denied it"
        if result.message:
            text = f"denied: {result.message}"
        if result.feedback and result.feedback not in result.message:
            text += f"; the reviewer says: {result.feedback}"
        return text
    if result.status is ResultStatus.COMPLETED:
        return result.stderr.decode("utf-8", errors="replace")[:500] or result.message
    return f"{result.status.value}: {result.message}".rstrip(": ")


def _error(text: str) -> RequestError:
    """An error whose message is the reason itself: agents show the message to their model,
    and many never look at `data`."""
    return RequestError(-32603, text or "refused by lockgate", {"details": text})


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class _Client:
    """The SDK's `Client` side: each method the agent may call, handed to the link."""

    def __init__(self, link: AcpLink) -> None:
        self._link = link

    def on_connect(self, conn: Any) -> None:
        return None

    async def request_permission(
        self, session_id: str, tool_call: ToolCallUpdate, options: list[PermissionOption], **_: Any
    ) -> RequestPermissionResponse:
        return await self._link.request_permission(tool_call, options)

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        await self._link.update(update)

    async def write_text_file(
        self, session_id: str, path: str, content: str, **_: Any
    ) -> WriteTextFileResponse:
        return await self._link.write_file(path, content)

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **_: Any,
    ) -> ReadTextFileResponse:
        return await self._link.read_file(path, line, limit)

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **_: Any,
    ) -> CreateTerminalResponse:
        return await self._link.create_terminal(command, args, env, cwd, output_byte_limit)

    async def terminal_output(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> TerminalOutputResponse:
        return self._link.terminal_output(terminal_id)

    async def release_terminal(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> ReleaseTerminalResponse:
        return self._link.release_terminal(terminal_id)

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> WaitForTerminalExitResponse:
        return await self._link.wait_terminal(terminal_id)

    async def kill_terminal(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> KillTerminalResponse:
        return self._link.kill_terminal(terminal_id)

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(method)

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None
