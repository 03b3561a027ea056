"""A scripted agent: plays a script file through the same AgentLink interface as a live model.

Everything after the link is real (risk, policy, review, sandbox, patches), so a script is how
the console is demonstrated without a key or a network, and how users rehearse their own
policies. The script reacts to verdicts the way a model would: a denied step is followed by the
agent's next move, not by a crash or a replay.

Script format (TOML; JSON with the same structure also works, by file extension):

    title = "Fix the failing test"          # optional; shown as the session title
    task = "The test suite fails; fix it."  # the task the agent was given

    [session]                   # optional: how `lockgate demo` sets up the session
    network = "allow"           # "off" (default) or "allow"
    allow_domains = ["docs.python.org"]

    [[step]]
    id = "explore"              # optional; needed only as a jump target
    think = "…"                 # optional reasoning summary, streamed first
    say = "…"                   # optional prose
    commands = ["ls -la", "cat README.md"]   # optional; each one is a proposed command
    patch = '''*** Begin Patch … *** End Patch'''  # optional; or `patches = [...]`
    on_denied = "id"            # where to go when any action of this step was denied
    on_failed = "id"            # … when one failed, timed out, was cancelled or exited non-zero
    on_ok = "id"                # … when everything ran and exited 0
    next = "id"                 # where to go otherwise (default: the next step in the file)
    branch = true               # reached only by a jump: linear flow skips over it
    end = true                  # the session ends after this step
    pause = 0.6                 # seconds of "thinking" before the step (scaled by the pace)

A step's commands and patches form one turn (commands first, then patches, in file order), as
one model response would. In `say` and `think`, `{feedback}` becomes the reviewer's own words
when they denied the previous step with feedback, `{you_said}` the same as a sentence
(` You said: "…".`, with its leading space), and `{reason}` why the step was denied or could not
run (the policy's or the patch engine's words). Each is empty when there is nothing to say.
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from app.agent.base import LinkBase
from app.core.events import AgentText
from app.core.model import Action, CommandAction, PatchAction, Result, ResultStatus

MAX_STEPS_RUN = 500  # a script whose jumps loop forever still ends


class ScriptError(Exception):
    """A script that cannot be played; the message names the file, the step and the problem."""


Outcome = Literal["denied", "failed", "ok"]


@dataclass(frozen=True)
class Step:
    id: str
    say: str = ""
    think: str = ""
    commands: tuple[str, ...] = ()
    patches: tuple[str, ...] = ()
    on_denied: str | None = None
    on_failed: str | None = None
    on_ok: str | None = None
    next: str | None = None
    branch: bool = False
    end: bool = False
    pause: float = 0.4


@dataclass(frozen=True)
class Script:
    task: str
    steps: tuple[Step, ...]
    title: str = ""
    network: Literal["off", "allow"] = "off"
    allow_domains: tuple[str, ...] = ()
    source: str = "<script>"

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)


# --------------------------------------------------------------------------- loading

_STEP_KEYS = {
    "id", "say", "think", "commands", "patch", "patches", "on_denied", "on_failed", "on_ok",
    "next", "branch", "end", "pause",
}  # fmt: skip
_TOP_KEYS = {"title", "task", "session", "step"}
_SESSION_KEYS = {"network", "allow_domains"}
_DOMAIN_RE = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def bundled_script() -> Traversable:
    """The demo script shipped with the package."""
    return resources.files("app.agent").joinpath("demo_script.toml")


def load_script(path: Path | Traversable) -> Script:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScriptError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        if name.endswith(".json"):
            data = json.loads(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScriptError(
            f"{name}: not valid {'JSON' if name.endswith('.json') else 'TOML'}: {exc}"
        ) from None
    return parse_script(data, name)


def parse_script(data: object, source: str = "<script>") -> Script:
    if not isinstance(data, dict):
        raise ScriptError(f"{source}: a script is a table with `task` and `[[step]]` entries")
    _no_unknown(data, _TOP_KEYS, source)
    task = data.get("task", "")
    title = data.get("title", "")
    if not isinstance(task, str) or not task.strip():
        raise ScriptError(f"{source}: `task` must be a non-empty string")
    if not isinstance(title, str):
        raise ScriptError(f"{source}: `title` must be a string")
    network: Literal["off", "allow"] = "off"
    domains: tuple[str, ...] = ()
    session = data.get("session", {})
    if not isinstance(session, dict):
        raise ScriptError(f"{source}: [session] must be a table")
    _no_unknown(session, _SESSION_KEYS, f"{source} [session]")
    if "network" in session:
        if session["network"] not in ("off", "allow"):
            raise ScriptError(f'{source}: [session] network must be "off" or "allow"')
        network = session["network"]
    if "allow_domains" in session:
        raw_domains = session["allow_domains"]
        if not isinstance(raw_domains, list) or not all(
            isinstance(d, str) and _DOMAIN_RE.match(d) for d in raw_domains
        ):
            raise ScriptError(f"{source}: [session] allow_domains must be a list of domain names")
        domains = tuple(raw_domains)
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScriptError(f"{source}: the script has no [[step]] entries")
    steps = tuple(_parse_step(s, n, source) for n, s in enumerate(raw_steps, start=1))
    ids = [s.id for s in steps]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ScriptError(f"{source}: step id {dupes[0]!r} is used twice")
    known = set(ids)
    for n, step in enumerate(steps, start=1):
        for key in ("on_denied", "on_failed", "on_ok", "next"):
            target = getattr(step, key)
            if target is not None and target not in known:
                raise ScriptError(
                    f"{source}: step {n} ({step.id}): {key} names no step: {target!r}"
                )
    return Script(
        task=task, steps=steps, title=title, network=network, allow_domains=domains, source=source
    )


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScriptError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )


def _parse_step(raw: object, n: int, source: str) -> Step:
    where = f"{source}: step {n}"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: must be a table")
    _no_unknown(raw, _STEP_KEYS, where)

    def text(key: str) -> str:
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise ScriptError(f"{where}: `{key}` must be a string")
        return value

    def strings(key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ScriptError(f"{where}: `{key}` must be a list of non-empty strings")
        return tuple(value)

    def target(key: str) -> str | None:
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ScriptError(f"{where}: `{key}` must be a step id")
        return value

    def flag(key: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            raise ScriptError(f"{where}: `{key}` must be true or false")
        return value

    step_id = raw.get("id", f"step-{n}")
    if not isinstance(step_id, str) or not step_id:
        raise ScriptError(f"{where}: `id` must be a non-empty string")
    patches = strings("patches")
    single = text("patch")
    if single.strip():
        patches = (*patches, single)
    pause = raw.get("pause", 0.4)
    if not isinstance(pause, int | float) or isinstance(pause, bool) or not 0 <= pause <= 60:
        raise ScriptError(f"{where}: `pause` must be a number of seconds between 0 and 60")
    step = Step(
        id=step_id,
        say=text("say"),
        think=text("think"),
        commands=strings("commands"),
        patches=patches,
        on_denied=target("on_denied"),
        on_failed=target("on_failed"),
        on_ok=target("on_ok"),
        next=target("next"),
        branch=flag("branch"),
        end=flag("end"),
        pause=float(pause),
    )
    if not (step.say or step.think or step.commands or step.patches):
        raise ScriptError(
            f"{where} ({step_id}): a step needs `say`, `think`, `commands` or `patch`"
        )
    return step


# --------------------------------------------------------------------------- playing


def outcome_of(results: Sequence[Result]) -> Outcome:
    if any(r.status is ResultStatus.DENIED for r in results):
        return "denied"
    for r in results:
        if r.status is not ResultStatus.COMPLETED or (r.exit_code not in (0, None)):
            return "failed"
    return "ok"


class ScriptedLink(LinkBase):
    """`pace` scales every pause and the typing speed; 0 plays the script as fast as it can."""

    def __init__(self, script: Script, *, pace: float = 1.0) -> None:
        super().__init__()
        self.script = script
        self.pace = max(0.0, pace)

    async def _sleep(self, seconds: float) -> None:
        if self.pace > 0 and seconds > 0:
            await asyncio.sleep(seconds * self.pace)

    async def _stream(self, text: str, kind: Literal["text", "reasoning"]) -> None:
        if not text:
            return
        if self.pace <= 0:
            self._emit(AgentText(text + "\n", kind))
            return
        words = re.findall(r"\S+\s*|\s+", text)
        for i in range(0, len(words), 3):
            self._emit(AgentText("".join(words[i : i + 3]), kind))
            await self._sleep(0.03)
        self._emit(AgentText("\n", kind))

    def _next_linear(self, i: int) -> int:
        j = i + 1
        steps = self.script.steps
        while j < len(steps) and steps[j].branch:
            j += 1
        return j

    async def _run(self) -> None:
        steps = self.script.steps
        feedback = reason = ""
        i = self._next_linear(-1)
        played = 0
        while i < len(steps):
            played += 1
            if played > MAX_STEPS_RUN:
                self._status(
                    "error",
                    f"{self.script.source}: more than {MAX_STEPS_RUN} steps played; stopped",
                )
                return
            step = steps[i]
            self._status("thinking", step.id)
            await self._sleep(step.pause)
            await self._stream(_fill(step.think, feedback, reason), "reasoning")
            await self._stream(_fill(step.say, feedback, reason), "text")
            outcome: Outcome | None = None
            if step.commands or step.patches:
                turn_id = self.new_turn_id()
                actions: list[Action] = [
                    CommandAction(command=c, turn_id=turn_id, call_id=f"{step.id}-{n}")
                    for n, c in enumerate(step.commands)
                ]
                actions += [
                    PatchAction(patch=p, turn_id=turn_id, call_id=f"{step.id}-p{n}")
                    for n, p in enumerate(step.patches)
                ]
                results = await self._turn(turn_id, actions)
                outcome = outcome_of(results)
                denied = [r for r in results if r.status is ResultStatus.DENIED]
                # Only a human's words count as feedback; a policy's reason is in `{reason}`.
                feedback = "; ".join(
                    r.feedback.strip()
                    for r in denied
                    if r.feedback.strip() and r.message.startswith("denied by the reviewer")
                )
                unhappy = denied or [r for r in results if r.status is not ResultStatus.COMPLETED]
                reason = next((r.message for r in unhappy if r.message), "")
            else:
                feedback = reason = ""
            if step.end:
                break
            jump = {"denied": step.on_denied, "failed": step.on_failed, "ok": step.on_ok}.get(
                outcome or ""
            )
            target = jump or step.next
            i = self.script.index(target) if target else self._next_linear(i)
        self._status("done", self.script.title)


def _fill(text: str, feedback: str, reason: str) -> str:
    said = f' You said: "{feedback}".' if feedback else ""
    return (
        text.replace("{you_said}", said).replace("{feedback}", feedback).replace("{reason}", reason)
    )
