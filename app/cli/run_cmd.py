"""`lockgate run`: a live agent (OpenAI Responses, or Chat Completions on any compatible server)
under review, in the console or headless.

Also home of the headless runner `lockgate demo --headless` shares: policy decides, what would be
asked is denied with the reason sent to the agent, and a plain transcript goes to stdout.
Everything printed passes `terminal_safe`: agent prose and command output are untrusted text and
must not be able to drive the reviewer's terminal with escape sequences.

Exit codes: 0 the agent finished; 1 the agent stopped on an error (bad key, unknown model, server
down…); 2 a usage mistake; 130 cancelled (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

import click

from app.cli import UserError
from app.cli.monitor_options import monitor_options
from app.cli.network_options import network_extra, network_rule_options
from app.cli.sandbox_backend_options import sandbox_backend_options

# asyncio, the core events and the patch display are imported where they are used: the module
# is loaded for `lockgate run --help` too, which needs none of them (~60 ms).
if TYPE_CHECKING:
    from app.core.events import AgentStatus, PipelineEvent
    from app.core.ports import AgentLink, Observer
    from app.execute.network import NetworkExtra
    from app.session import ResumeCandidate, Session

EXIT_OK, EXIT_AGENT_ERROR, EXIT_CANCELLED = 0, 1, 130
OUTPUT_LINES = 12  # per stream, of each command's output, in the headless transcript
DEFAULT_MODEL = "gpt-5.1"


# --------------------------------------------------------------------------- headless


class PipelineRunner(Protocol):
    def add_observer(self, observer: Observer) -> None: ...
    async def run(self, link: AgentLink) -> None: ...
    async def cancel(self) -> None: ...


class Transcript:
    """An observer printing the session as it happens; remembers the agent's last status."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.final: AgentStatus | None = None
        self._prose: dict[str, str] = {"text": "", "reasoning": ""}
        self._kinds: dict[str, str] = {}
        self._labels: dict[str, str] = {}

    def _line(self, text: str) -> None:
        from app.patch.display import terminal_safe

        print(terminal_safe(text), file=self.out, flush=True)

    def _flush_prose(self, kind: str, force: bool = False) -> None:
        buf = self._prose[kind]
        label = "agent" if kind == "text" else "thinking"
        while "\n" in buf:
            line, buf = buf.split("\n", 1)
            if line.strip():
                self._line(f"{label}: {line}")
        if force and buf.strip():
            self._line(f"{label}: {buf}")
            buf = ""
        self._prose[kind] = buf

    def _flush_all(self) -> None:
        self._flush_prose("reasoning", force=True)
        self._flush_prose("text", force=True)

    def notify(self, event: PipelineEvent) -> None:
        with contextlib.suppress(Exception):  # an observer must never raise into the pipeline
            self._notify(event)

    def _notify(self, event: PipelineEvent) -> None:
        from app.core.events import (
            ActionDecided,
            ActionProposed,
            AgentEventSeen,
            AgentStatus,
            AgentText,
            ExecutionFinished,
        )
        from app.core.model import CommandAction, NetworkAction, PatchAction, ResultStatus

        if isinstance(event, AgentEventSeen):
            inner = event.event
            if isinstance(inner, AgentText):
                self._prose[inner.kind] += inner.text
                self._flush_prose(inner.kind)
            elif isinstance(inner, AgentStatus):
                self.final = inner
                if inner.state in ("retrying", "error", "done", "cancelled"):
                    self._flush_all()
                    detail = f": {inner.detail}" if inner.detail else ""
                    self._line(f"[{inner.state}]{detail}")
        elif isinstance(event, ActionProposed):
            self._flush_all()
            action = event.action
            self._kinds[action.id] = action.kind
            if isinstance(action, CommandAction):
                self._labels[action.id] = _short(action.command)
                self._line(f"→ $ {action.command}")
            elif isinstance(action, PatchAction):
                heads = [
                    ln[4:]
                    for ln in action.patch.splitlines()
                    if ln.startswith("*** ") and " File:" in ln
                ]
                self._labels[action.id] = "patch"
                self._line(f"→ patch: {'; '.join(heads) or 'patch'}")
            elif isinstance(action, NetworkAction):
                who = f" (from {action.program})" if action.program else ""
                self._labels[action.id] = action.host
                self._line(f"→ network: {action.reviewed_text}{who}")
        elif isinstance(event, ActionDecided):
            d = event.decision
            why = f" — {d.reason}" if d.reason else ""
            self._line(f"  policy: {d.kind} [{d.rule}]{why}")
        elif isinstance(event, ExecutionFinished):
            r = event.result
            label = self._labels.get(r.action_id, r.action_id)
            if r.status is ResultStatus.COMPLETED:
                if self._kinds.get(r.action_id) == "patch":
                    self._line(f"  [patch] applied: {patch_files(r.message, r.files_changed)}")
                else:
                    self._line(f"  [{label}] exit {r.exit_code} ({r.duration_s:.2f} s)")
            elif r.status is ResultStatus.DENIED:
                self._line(f"  [{label}] {r.message or 'denied'}")
                return
            else:
                self._line(f"  [{label}] {r.status}: {r.message}")
            self._output(r.stdout, r.stdout_total)
            self._output(r.stderr, r.stderr_total)

    def _output(self, data: bytes, total: int) -> None:
        """Head and tail of a stream: test summaries and errors live at the end."""
        if not data:
            return
        lines = data.decode("utf-8", "replace").splitlines()
        if len(lines) <= OUTPUT_LINES and total <= len(data):
            shown = lines
        else:
            half = OUTPUT_LINES // 2
            shown = [
                *lines[:half],
                f"… ({len(lines)} lines, {total} bytes in all) …",
                *lines[-half:],
            ]
        for ln in shown:
            self._line(f"  │ {ln}")


def patch_files(message: str, files: Sequence[str] = ()) -> str:
    """'A test_hello.py, M app.py' from the patch engine's report ("Success. Updated the
    following files:" and one `A/M/D path` line each), for a one-line transcript entry."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if lines and lines[0].endswith("the following files:"):
        lines = lines[1:]
    return ", ".join(lines) or ", ".join(files) or "no files"


def _short(command: str, limit: int = 40) -> str:
    line = " ".join(command.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def exit_code(final: AgentStatus | None) -> int:
    if final is None or final.state == "error":
        return EXIT_AGENT_ERROR
    if final.state == "cancelled":
        return EXIT_CANCELLED
    return EXIT_OK


async def run_headless(
    pipeline: PipelineRunner, link: AgentLink, *, out: TextIO | None = None
) -> int:
    """Run the session to its end. Ctrl-C (SIGINT) or SIGTERM cancels the agent and its turn;
    a second one stops waiting for that and returns at once."""
    import asyncio

    transcript = Transcript(out)
    pipeline.add_observer(transcript)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []
    running = loop.create_task(pipeline.run(link))

    async def stop() -> None:
        await link.cancel()
        await pipeline.cancel()

    def on_signal() -> None:
        if not stopping:
            print("lockgate: cancelling… (again to stop waiting)", file=sys.stderr, flush=True)
            stopping.append(loop.create_task(stop()))
        else:
            running.cancel()
            for task in stopping:
                task.cancel()

    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await running
            for task in stopping:
                await task
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return EXIT_CANCELLED if stopping else exit_code(transcript.final)


class LastStatus:
    """Remembers the agent's last status, so an error can be repeated on stderr at exit (the
    console's screen is gone by then)."""

    def __init__(self) -> None:
        self.final: AgentStatus | None = None

    def notify(self, event: PipelineEvent) -> None:
        from app.core.events import AgentEventSeen, AgentStatus

        if isinstance(event, AgentEventSeen) and isinstance(event.event, AgentStatus):
            self.final = event.event


def play(session: Session, link: AgentLink, *, headless: bool, out: TextIO | None = None) -> int:
    """Run a session with the console, or headless; returns the exit code. An agent that stopped
    on an error says why on stderr as the program exits."""
    import asyncio

    from app.patch.display import terminal_safe

    last = LastStatus()
    session.pipeline.add_observer(last)
    if headless:
        code = asyncio.run(_headless_in_session(session, link, out))
    else:
        from app.ui import run_console

        # The session diff (`d`) also covers the sandbox's writable roots outside the workspace.
        sandbox = session.sandbox
        code = run_console(session, link, sandbox.policy.writable if sandbox is not None else ())
    final = last.final
    if code == EXIT_AGENT_ERROR:
        why = final.detail if final is not None and final.state == "error" else ""
        print(
            terminal_safe(f"lockgate: the agent stopped on an error: {why or 'no reason given'}"),
            file=sys.stderr,
            flush=True,
        )
    return code


async def _headless_in_session(session: Session, link: AgentLink, out: TextIO | None) -> int:
    from app.patch.display import terminal_safe

    stream = out or sys.stdout

    def say(text: str) -> None:
        print(terminal_safe(f"lockgate: {text}"), file=stream, flush=True)

    async with session:
        say(f"workspace {session.workspace}")
        status = session.sandbox_status
        if status is not None:
            say(f"sandbox: {status.summary()}")
        for notice in session.notices:
            say(notice)
        say(f"audit log {session.audit_path}")
        code = await run_headless(session.pipeline, link, out=stream)
    say(f"audit log {session.audit_path} (check it with `lockgate log verify`)")
    return code


# --------------------------------------------------------------------------- the command


def _workspace(path: str | None) -> Path:
    ws = Path(path) if path else Path.cwd()
    if not ws.is_dir():
        raise UserError(f"workspace {ws}: not a directory")
    return ws.resolve()


def build_link(
    task: str,
    *,
    api: Literal["responses", "chat"],
    model: str,
    base_url: str | None,
    context: Any,
    retries: int = 5,
    conversation: Sequence[Mapping[str, Any]] = (),
) -> AgentLink:
    """The live link for `lockgate run`; UserError for a missing key or a bad URL, or for a
    killed session's `conversation` (its `agent-state` records) this link cannot take up."""
    from app.agent.base import ResumeMismatch
    from app.agent.chat import ChatLink
    from app.agent.errors import Backoff, MissingKeyError
    from app.agent.responses import ResponsesLink
    from app.agent.transport import make_client

    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise UserError(f"--base-url {base_url!r}: must start with http:// or https://")
    try:
        client, url, key = make_client(base_url=base_url)
    except MissingKeyError as exc:
        raise UserError(str(exc)) from None
    backoff = Backoff(attempts=retries)
    try:
        if api == "chat":
            return ChatLink(
                task,
                client=client,
                context=context,
                model=model,
                base_url=url,
                api_key=key,
                backoff=backoff,
                resume=conversation,
            )
        return ResponsesLink(
            task,
            client=client,
            context=context,
            model=model,
            base_url=url,
            api_key=key,
            backoff=backoff,
            resume=conversation,
        )
    except ResumeMismatch as exc:
        raise UserError(str(exc)) from None


@click.command("run")
@click.option(
    "--model",
    "-m",
    default=None,
    metavar="M",
    help=f"Model name (default: $LOCKGATE_MODEL or {DEFAULT_MODEL}).",
)
@click.option(
    "--base-url",
    default=None,
    metavar="URL",
    help="An OpenAI-compatible server, e.g. http://localhost:11434/v1 (default: "
    "$OPENAI_BASE_URL or the OpenAI API). OPENAI_API_KEY, if set, is sent to this server; "
    "without it a local server gets a placeholder.",
)
@click.option(
    "--api",
    type=click.Choice(["responses", "chat"]),
    default="responses",
    show_default=True,
    help="Responses API (built-in shell and apply_patch tools) or Chat Completions (function tools; for compatible servers).",
)
@click.option(
    "--workspace",
    "-w",
    default=None,
    metavar="DIR",
    help="The project the agent works in (default: the current directory).",
)
@click.option(
    "--headless",
    is_flag=True,
    help="No console: policy decides; what would be asked is denied and the reason goes to the agent.",
)
@click.option(
    "--network",
    type=click.Choice(["off", "allow"]),
    default="off",
    show_default=True,
    help="off: no network in the sandbox; allow: only through lockgate's proxy, to allowed domains (others are asked).",
)
@click.option(
    "--allow-domain",
    "allow_domains",
    multiple=True,
    metavar="D",
    help="Allow domain D (repeatable; needs --network allow).",
)
@network_rule_options
@sandbox_backend_options
@monitor_options
@click.option(
    "--audit",
    "audit",
    default=None,
    metavar="PATH",
    help="Write the audit log here (default: a new file in the user data dir).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="Retries after rate limits (429), server errors (5xx), dropped connections and cut "
    "streams, with exponential backoff (1 s doubling, at most 30 s).",
)
@click.argument("task")
def cli(
    model: str | None,
    base_url: str | None,
    api: Literal["responses", "chat"],
    workspace: str | None,
    headless: bool,
    network: Literal["off", "allow"],
    allow_domains: tuple[str, ...],
    audit: str | None,
    max_retries: int,
    task: str,
    monitor_model: str | None = None,
    monitor_base_url: str | None = None,
    **network_params: Any,
) -> None:
    """Run a live agent on TASK, under review.

    The key comes from OPENAI_API_KEY (never from the command line, where other users could see
    it). Try `lockgate demo` first: it needs no key and no network.
    """
    if not task.strip():
        raise UserError("the task is empty")
    if allow_domains and network != "allow":
        raise UserError("--allow-domain needs --network allow")
    extra = network_extra(network_params, network)
    ws = _workspace(workspace)
    chosen = model or os.environ.get("LOCKGATE_MODEL") or DEFAULT_MODEL
    from app.core.ports import SessionContext

    context = SessionContext(
        workspace=ws, network=network, allowed_domains=allow_domains, headless=headless
    )
    from app.session import find_resumable

    resume = _ask_resume(find_resumable(ws), interactive=not headless)
    # A resumed session takes the agent's conversation up where it was killed (the task given
    # now is not sent again): the link is rebuilt from the log's agent-state records.
    link = build_link(
        task,
        api=api,
        model=chosen,
        base_url=base_url,
        context=context,
        retries=max_retries,
        conversation=resume.recovery.conversation if resume is not None else (),
    )
    if resume is not None:
        turns = len(resume.recovery.conversation)
        counted = f"{turns} model turn" if turns == 1 else f"{turns} model turns"
        click.echo(
            f"lockgate: the agent's conversation comes back ({counted}); the task given now is "
            "not sent"
            if turns
            else "lockgate: the interrupted session kept no conversation; the agent starts on "
            "the task given now",
            err=True,
        )
    session = _open(
        workspace=ws,
        headless=headless,
        network=network,
        allowed_domains=allow_domains,
        audit=Path(audit) if audit else None,
        secrets=tuple(k for k in (os.environ.get("OPENAI_API_KEY", "").strip(),) if k),
        resume=resume,
        network_extra=extra,
        monitor_model=monitor_model,
        monitor_base_url=monitor_base_url,
        task=task,
    )
    with session:
        code = play(session, link, headless=headless)
    sys.exit(code)


def _open(
    *,
    workspace: Path,
    headless: bool,
    network: Literal["off", "allow"],
    allowed_domains: tuple[str, ...],
    audit: Path | None,
    secrets: tuple[str, ...] = (),
    resume: ResumeCandidate | None = None,
    network_extra: NetworkExtra | None = None,
    monitor_model: str | None = None,
    monitor_base_url: str | None = None,
    task: str = "",
) -> Session:
    """The session (config, risk, policy, sandbox, executors, audit log, pipeline)."""
    from app.session import SessionError, SessionOptions, open_session

    try:
        return open_session(
            SessionOptions(
                workspace=workspace,
                headless=headless,
                network=network,
                allowed_domains=allowed_domains,
                audit_path=audit,
                secrets=secrets,
                resume=resume,
                network_extra=network_extra,
                monitor_model=monitor_model,
                monitor_base_url=monitor_base_url,
                task=task,
            )
        )
    except SessionError as exc:
        raise UserError(str(exc)) from None


def _ask_resume(candidates: list[ResumeCandidate], *, interactive: bool) -> ResumeCandidate | None:
    """A killed session of this workspace: offer it (newest first) when someone can answer."""
    if not candidates:
        return None
    newest = candidates[0]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.started))
    what = (
        f"session {newest.session_id} (started {when}) was interrupted: {newest.recovery.summary()}"
    )
    if not interactive or not sys.stdin.isatty():
        click.echo(f"lockgate: {what}; not resumed (resume it from the console)", err=True)
        return None
    if click.confirm(f"lockgate: {what}. Resume it?", default=True, err=True):
        return newest
    return None
