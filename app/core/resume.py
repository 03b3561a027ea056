"""Crash safety: after a SIGKILL, the next start in that workspace offers to pick up where it was.

Two things survive a crash: the session's audit log (every step, fsynced before anything runs)
and a small per-workspace session index in the data dir (which log belongs to which live
console). A session whose index entry is still "open" but whose console process is gone was
killed; `find_resumable` offers it, `recover` rebuilds its actions from the log, and
`Pipeline.seed` takes them back:

* an action that ended comes back as it ended ("shown as run"), never to run again;
* an execution start without an end is INTERRUPTED: it may have done part of its work, so it
  is never run again either;
* everything that had not started comes back WAITING for a fresh human verdict, even if it had
  been approved (the world changed under it: a crash happened);
* the resumed session appends to the same log, so its chain and its history stay one;
* the agent's side of the conversation comes back too: each live link writes an `agent-state`
  record (an `AgentCheckpoint`) before it proposes a turn, so a restored link can propose that
  turn again under the same ids; the pipeline then hands it the recovered turn, and the
  verdicts and results of the recovered actions go to the agent (`Recovery.conversation`).

`settle` decides what each recovered action becomes (the one place that does); `seed` installs
the outcome in a pipeline.

Resuming refuses a log whose chain is broken (apart from a half-written last line, which the
log itself cuts and notes): a tampered log must not bring commands back for approval.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app.core.audit import AuditLog, read_kept, read_records
from app.core.config import data_dir
from app.core.model import (
    Action,
    Assessment,
    Category,
    CommandAction,
    Decision,
    DecisionKind,
    Finding,
    Level,
    NetworkAction,
    PatchAction,
    Result,
    ResultStatus,
    Verdict,
    VerdictKind,
)
from app.core.patch_review import PatchReview
from app.core.ports import SessionContext
from app.core.state import ActionState
from app.core.verify import verify_log

INTERRUPTED_MESSAGE = (
    "interrupted: lockgate stopped while this was running; it may have done part of its work "
    "and is not run again"
)
REDACTED_MESSAGE = (
    "cannot come back for review: its text held a secret, which the audit log does not keep"
)


class ResumeError(Exception):
    """A session cannot be resumed; the message says why in one line."""


@dataclass(frozen=True)
class RecoveredAction:
    action: Action
    state: ActionState
    assessment: Assessment | None = None
    decision: Decision | None = None
    verdict: Verdict | None = None
    result: Result | None = None  # set when the action ended (or was interrupted)
    unrecoverable: str = ""  # why it cannot come back for review (e.g. its text was redacted)


@dataclass(frozen=True)
class RecoveredTurn:
    turn_id: str
    actions: tuple[RecoveredAction, ...]
    results_sent: bool = False


@dataclass(frozen=True)
class Recovery:
    """What a killed session's log says, ready for `seed`."""

    session_id: str
    turns: tuple[RecoveredTurn, ...]
    # every `agent-state` record's data ({"api", "turn_id", "state"}), oldest first: what an
    # agent link needs to rebuild the conversation (see `AgentCheckpoint`)
    conversation: tuple[Mapping[str, Any], ...] = ()

    def count(self, *states: ActionState) -> int:
        return sum(1 for t in self.turns for a in t.actions if a.state in states)

    @property
    def pending(self) -> int:
        return self.count(ActionState.WAITING)

    @property
    def interrupted(self) -> int:
        return self.count(ActionState.INTERRUPTED)

    @property
    def finished(self) -> int:
        return self.count(ActionState.DONE, ActionState.FAILED, ActionState.DENIED)

    def summary(self) -> str:
        return f"{self.pending} pending, {self.finished} finished, {self.interrupted} interrupted"


@dataclass(frozen=True)
class ResumeCandidate:
    """A killed session the console can offer to resume."""

    session_id: str
    audit_path: Path
    workspace: Path
    started: float
    recovery: Recovery


# --------------------------------------------------------------------------- rebuilding records


def _tuple_of_tuples(value: Any) -> tuple[tuple[int, int], ...]:
    return tuple((int(a), int(b)) for a, b in value or ())


def _assessment(d: dict[str, Any]) -> Assessment:
    findings = tuple(
        Finding(
            Category(f["category"]),
            int(f["score"]),
            str(f["reason"]),
            _tuple_of_tuples(f.get("spans")),
        )
        for f in d.get("findings") or ()
    )
    return Assessment(
        score=int(d["score"]),
        level=Level(d["level"]),
        categories=tuple(Category(c) for c in d.get("categories") or ()),
        reasons=tuple(str(r) for r in d.get("reasons") or ()),
        spans=_tuple_of_tuples(d.get("spans")),
        findings=findings,
    )


def _decision(d: dict[str, Any]) -> Decision:
    return Decision(
        DecisionKind(d["kind"]),
        str(d["rule"]),
        str(d.get("reason", "")),
        d.get("source", "default"),
    )


def _verdict(d: dict[str, Any]) -> Verdict:
    return Verdict(
        action_id=str(d["action_id"]),
        kind=VerdictKind(d["kind"]),
        by=d.get("by", "human"),
        key=str(d.get("key", "")),
        feedback=str(d.get("feedback", "")),
        edited=d.get("edited"),
        at=float(d.get("at") or 0.0),
    )


def _result(d: dict[str, Any]) -> Result:
    return Result(
        action_id=str(d["action_id"]),
        status=ResultStatus(d["status"]),
        exit_code=d.get("exit_code"),
        stdout_total=int(d.get("stdout_total", 0)),
        stderr_total=int(d.get("stderr_total", 0)),
        duration_s=float(d.get("duration_s") or 0.0),
        ran=d.get("ran"),
        message=str(d.get("message", "")),
        feedback=str(d.get("feedback", "")),
        files_changed=tuple(d.get("files_changed") or ()),
        call_id=str(d.get("call_id", "")),
    )


def _action(d: dict[str, Any]) -> Action:
    kind = d.get("kind")
    cls: type[CommandAction] | type[PatchAction] | type[NetworkAction]
    if kind == "command":
        cls = CommandAction
    elif kind == "patch":
        cls = PatchAction
    elif kind == "network":
        cls = NetworkAction
    else:
        raise ValueError(f"unknown action kind {kind!r}")
    if not isinstance(d, dict):
        raise ValueError("an action must be a table")
    names = {f for f in cls.__dataclass_fields__ if f != "kind"}
    action = cls(**{k: v for k, v in d.items() if k in names})
    texts = [action.id, action.turn_id, action.reviewed_text, action.call_id]
    if isinstance(action, CommandAction):
        texts.append(action.cwd or "")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(f"action {action.id!r} has fields of the wrong type")
    return action


@dataclass
class _Acc:
    action: Action
    redacted: bool
    assessment: Assessment | None = None
    decision: Decision | None = None
    verdict: Verdict | None = None
    started: str | None = None
    result: Result | None = None


def _usable(path: Path) -> None:
    report = verify_log(path)
    if report.ok:
        return
    torn_only = (
        len(report.problems) == 1
        and report.first is not None
        and "incomplete last record" in report.first.message
    )
    if not torn_only:
        raise ResumeError(f"{path}: audit log is broken ({report.first}); not resuming from it")


def recover(path: Path) -> Recovery:
    """Rebuild a session's turns from its audit log (which must verify)."""
    path = Path(path)
    _usable(path)
    session_id = ""
    accs: dict[str, _Acc] = {}
    turn_order: list[str] = []
    turn_actions: dict[str, list[str]] = {}
    closed: set[str] = set()
    conversation: list[Mapping[str, Any]] = []
    kept = read_kept(path)
    outputs = {
        str(e["data"].get("action_id")): e["data"]
        for e in kept.values()
        if e.get("kind") == "output"
    }
    lost = False
    for _, rec in read_records(path):
        session_id = session_id or str(rec.get("session", ""))
        kind = rec.get("kind")
        data = rec.get("data") or {}
        try:
            if kind == "proposal":
                action = _action(data["action"])
                if action.id in accs:
                    continue
                accs[action.id] = _Acc(action, redacted=bool(rec.get("redacted")))
                turn = action.id if isinstance(action, NetworkAction) else action.turn_id
                if turn not in turn_actions:
                    turn_order.append(turn)
                    turn_actions[turn] = []
                turn_actions[turn].append(action.id)
            elif kind == "assessment" and data.get("action_id") in accs:
                accs[data["action_id"]].assessment = _assessment(data["assessment"])
            elif kind == "decision" and data.get("action_id") in accs:
                accs[data["action_id"]].decision = _decision(data["decision"])
            elif kind == "verdict":
                verdict = _verdict(data["verdict"])
                if verdict.action_id in accs:
                    accs[verdict.action_id].verdict = verdict
            elif kind == "execution-start" and data.get("action_id") in accs:
                accs[data["action_id"]].started = str(data.get("ran", ""))
            elif kind in ("execution-end", "result"):
                result = _result(data["result"])
                if kind == "execution-end":
                    result = _with_output(result, data.get("digest"), outputs.get(result.action_id))
                if result.action_id in accs:
                    accs[result.action_id].result = result
            elif kind in ("results-sent", "turn-closed"):
                closed.add(str(data.get("turn_id")))
            elif kind == "agent-state":
                entry = kept.get(str(data.get("sha256")))
                if entry is None or entry.get("kind") != "agent-state":
                    lost = True  # the checkpoint beside the log is gone or altered
                    continue
                conversation.append(
                    {"api": str(data["api"]), "turn_id": str(data["turn_id"]), **entry["data"]}
                )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ResumeError(
                f"{path}: record {rec.get('seq')} cannot be read back ({exc})"
            ) from exc

    turns: list[RecoveredTurn] = []
    for turn_id in turn_order:
        actions = tuple(_recovered(accs[aid]) for aid in turn_actions[turn_id])
        turns.append(RecoveredTurn(turn_id, actions, results_sent=turn_id in closed))
    # A conversation with a hole cannot be continued; the actions still come back.
    return Recovery(session_id, tuple(turns), () if lost else tuple(conversation))


def _with_output(r: Result, digest: object, kept: Mapping[str, Any] | None) -> Result:
    """The recorded result with the output kept beside the log, if the log's digest vouches for
    it (otherwise the result stays without output, as the log alone has it)."""
    if kept is None or not isinstance(digest, dict):
        return r
    try:
        out = base64.b64decode(str(kept.get("stdout", "")), validate=True)
        err = base64.b64decode(str(kept.get("stderr", "")), validate=True)
    except ValueError:
        return r
    if hashlib.sha256(out).hexdigest() != digest.get("stdout_kept_sha256"):
        return r
    if hashlib.sha256(err).hexdigest() != digest.get("stderr_kept_sha256"):
        return r
    return dataclasses.replace(r, stdout=out, stderr=err)


def _recovered(acc: _Acc) -> RecoveredAction:
    a = acc.action
    call_id = a.call_id
    common: dict[str, Any] = {"assessment": acc.assessment, "decision": acc.decision}
    if acc.result is not None:
        r = acc.result
        state = (
            ActionState.DONE
            if r.status is ResultStatus.COMPLETED
            else ActionState.DENIED
            if r.status is ResultStatus.DENIED
            else ActionState.FAILED
        )
        return RecoveredAction(a, state, verdict=acc.verdict, result=r, **common)
    if acc.started is not None:
        r = Result(
            a.id, ResultStatus.FAILED, ran=acc.started, message=INTERRUPTED_MESSAGE, call_id=call_id
        )
        return RecoveredAction(a, ActionState.INTERRUPTED, verdict=acc.verdict, result=r, **common)
    if acc.verdict is not None and not acc.verdict.kind.approves:
        r = Result(
            a.id,
            ResultStatus.DENIED,
            message="denied" + (f": {acc.verdict.feedback}" if acc.verdict.feedback else ""),
            feedback=acc.verdict.feedback,
            call_id=call_id,
        )
        return RecoveredAction(a, ActionState.DENIED, verdict=acc.verdict, result=r, **common)
    if isinstance(a, NetworkAction):
        # The program that asked is gone with the console; its request cannot be answered now.
        r = Result(a.id, ResultStatus.FAILED, message="the request's program stopped with lockgate")
        return RecoveredAction(a, ActionState.FAILED, verdict=acc.verdict, result=r, **common)
    if acc.redacted:
        return RecoveredAction(a, ActionState.FAILED, unrecoverable=REDACTED_MESSAGE, **common)
    return RecoveredAction(a, ActionState.WAITING, **common)


# --------------------------------------------------------------------------- settling, seeding


@dataclass(frozen=True)
class Judge:
    """The review a fresh proposal gets, lent by the pipeline, so a recovered action that was
    never assessed or decided gets exactly the same treatment."""

    review: Callable[[PatchAction], PatchReview]
    assess: Callable[[Action, tuple[Action, ...]], Assessment]
    decide: Callable[[Action, Assessment], Decision]


Record = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class SettledAction:
    """What a recovered action comes back as, and the audit records saying what was decided now
    (the records of the killed session already say the rest)."""

    action: Action
    state: ActionState
    assessment: Assessment | None = None
    decision: Decision | None = None
    verdict: Verdict | None = None
    result: Result | None = None
    review: PatchReview | None = None
    records: tuple[Record, ...] = ()


@dataclass(frozen=True)
class SettledTurn:
    turn_id: str
    actions: tuple[SettledAction, ...]
    results_sent: bool = False


HEADLESS_RECOVERED = "headless mode: a recovered action needs a human to confirm it"


def settle(
    turns: Iterable[RecoveredTurn], judge: Judge, *, headless: bool
) -> tuple[SettledTurn, ...]:
    """Decide what every recovered action becomes: finished ones stay as they ended, ones that
    cannot come back fail, a policy denial stands, and whatever else had not started waits for
    a fresh human verdict (headless: is denied, as nobody can confirm it)."""
    out: list[SettledTurn] = []
    for rt in turns:
        settled: list[SettledAction] = []
        for ra in rt.actions:
            earlier = tuple(s.action for s in settled)
            settled.append(_settle_one(ra, earlier, judge, headless=headless))
        out.append(SettledTurn(rt.turn_id, tuple(settled), rt.results_sent))
    return tuple(out)


def _settle_one(
    ra: RecoveredAction, earlier: tuple[Action, ...], judge: Judge, *, headless: bool
) -> SettledAction:
    a = ra.action
    if ra.result is not None:
        return SettledAction(a, ra.state, ra.assessment, ra.decision, ra.verdict, ra.result)
    if ra.unrecoverable:
        return _failed(a, ra.assessment, ra.decision, ra.unrecoverable)
    review: PatchReview | None = None
    records: list[Record] = []
    if isinstance(a, PatchAction):
        review = judge.review(a)
        if not review.ok:
            return _failed(a, ra.assessment, ra.decision, review.error or "patch cannot apply")
    assessment = ra.assessment
    if assessment is None:  # killed before it was assessed: assess it now
        assessment = judge.assess(a, earlier)
        records.append(("assessment", {"action_id": a.id, "assessment": assessment}))
    decision = ra.decision
    if decision is None:
        decision = judge.decide(a, assessment)
        records.append(("decision", {"action_id": a.id, "decision": decision}))
    denial: tuple[str, str, str] | None = None
    if decision.kind is DecisionKind.DENY:
        # Denied before the crash could record the verdict: denied it stays.
        denial = (
            decision.rule,
            decision.reason,
            f"denied by policy ({decision.rule}): {decision.reason}",
        )
    elif headless:
        # Nobody can confirm it again; it never runs unconfirmed.
        denial = (
            "core:headless",
            HEADLESS_RECOVERED,
            "denied: headless mode cannot confirm an action recovered after a crash",
        )
    if denial is None:
        return SettledAction(
            a, ActionState.WAITING, assessment, decision, review=review, records=tuple(records)
        )
    rule, feedback, message = denial
    verdict = Verdict(a.id, VerdictKind.DENY, by="policy", key=rule, feedback=feedback)
    result = Result(
        a.id, ResultStatus.DENIED, message=message, feedback=feedback, call_id=a.call_id
    )
    records += [("verdict", {"verdict": verdict}), ("result", {"result": result})]
    return SettledAction(
        a, ActionState.DENIED, assessment, decision, verdict, result, review, tuple(records)
    )


def _failed(
    a: Action, assessment: Assessment | None, decision: Decision | None, why: str
) -> SettledAction:
    result = Result(a.id, ResultStatus.FAILED, message=why, call_id=a.call_id)
    return SettledAction(
        a,
        ActionState.FAILED,
        assessment,
        decision,
        result=result,
        records=(("result", {"result": result}),),
    )


class Restorable(Protocol):
    """What `seed` needs of a pipeline (named here so this module never imports the pipeline,
    which imports it)."""

    @property
    def context(self) -> SessionContext: ...

    @property
    def judge(self) -> Judge: ...

    def restore(self, turns: Iterable[SettledTurn]) -> None: ...


def seed(pipeline: Restorable, turns: Sequence[RecoveredTurn]) -> None:
    """Install what a killed session left behind in `pipeline` (before any proposal): finished
    actions as they ended, interrupted ones as INTERRUPTED (never run again), everything that had
    not started waiting for a fresh human verdict."""
    pipeline.restore(settle(turns, pipeline.judge, headless=pipeline.context.headless))


# --------------------------------------------------------------------------- the session index


def workspace_key(workspace: Path) -> str:
    return hashlib.sha256(str(Path(workspace).resolve()).encode()).hexdigest()[:16]


def _proc_start(pid: int) -> str:
    """The kernel's start time of `pid` (guards against pid reuse); '' where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start and Path("/proc").is_dir():
        return _proc_start(pid) == start
    return True


@dataclass
class SessionIndex:
    """`data_dir()/sessions/<workspace key>.json`: the sessions opened in one workspace."""

    workspace: Path
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workspace = Path(self.workspace).resolve()
        self.path = data_dir() / "sessions" / f"{workspace_key(self.workspace)}.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with lock.open("a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                data = self._read()
                yield data
                tmp = self.path.with_name(self.path.name + ".tmp")
                with tmp.open("w") as fh:
                    json.dump(data, fh, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            finally:
                fcntl.flock(lf, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("sessions"), list):
            data = {"workspace": str(self.workspace), "sessions": []}
        return data

    def entries(self) -> list[dict[str, Any]]:
        return [e for e in self._read()["sessions"] if isinstance(e, dict)]

    def register(self, session_id: str, audit_path: Path) -> None:
        pid = os.getpid()
        with self._locked() as data:
            data["sessions"].append(
                {
                    "id": session_id,
                    "audit": str(Path(audit_path).resolve()),
                    "pid": pid,
                    "pid_start": _proc_start(pid),
                    "started": time.time(),
                    "state": "open",
                }
            )
            data["sessions"] = data["sessions"][-50:]

    def claim(self, session_id: str) -> None:
        """This process now owns the session (it resumed it)."""
        pid = os.getpid()
        with self._locked() as data:
            for e in data["sessions"]:
                if e.get("id") == session_id:
                    if (
                        e.get("state") == "open"
                        and _alive(int(e.get("pid", 0)), str(e.get("pid_start", "")))
                        and e.get("pid") != pid
                    ):
                        raise ResumeError(
                            f"session {session_id} is still open in process {e['pid']}"
                        )
                    e.update(pid=pid, pid_start=_proc_start(pid), state="open", resumed=time.time())
                    return
        raise ResumeError(f"no session {session_id} in this workspace")

    def mark(self, session_id: str, state: str) -> None:
        with self._locked() as data:
            for e in data["sessions"]:
                if e.get("id") == session_id:
                    e["state"] = state

    def orphans(self) -> list[dict[str, Any]]:
        """Open sessions whose console is gone: they were killed."""
        out = []
        for e in self.entries():
            if e.get("state") != "open":
                continue
            try:
                pid = int(e.get("pid", 0))
            except (TypeError, ValueError):
                continue
            if pid > 0 and _alive(pid, str(e.get("pid_start", ""))):
                continue
            out.append(e)
        return out


def find_resumable(workspace: Path) -> list[ResumeCandidate]:
    """Killed sessions of this workspace that left something to show or to do, newest first.

    A session whose log cannot be trusted (broken chain) is not offered; nor is one with
    nothing recorded beyond its start.
    """
    index = SessionIndex(workspace)
    out: list[ResumeCandidate] = []
    for e in index.orphans():
        path = Path(str(e.get("audit", "")))
        if not path.is_file():
            continue
        try:
            recovery = recover(path)
        except ResumeError:
            continue
        if not recovery.turns:
            index.mark(str(e["id"]), "closed")
            continue
        out.append(
            ResumeCandidate(
                session_id=str(e["id"]),
                audit_path=path,
                workspace=index.workspace,
                started=float(e.get("started", 0.0)),
                recovery=recovery,
            )
        )
    out.sort(key=lambda c: c.started, reverse=True)
    return out


def discard(candidate: ResumeCandidate) -> None:
    """The reviewer chose not to resume: do not offer this session again."""
    SessionIndex(candidate.workspace).mark(candidate.session_id, "abandoned")


# --------------------------------------------------------------------------- opening a session's journal


@dataclass
class Journal:
    """A session's audit log plus its entry in the workspace's session index."""

    audit: AuditLog
    index: SessionIndex
    recovered: tuple[RecoveredTurn, ...] = ()

    @property
    def session_id(self) -> str:
        return self.audit.session_id

    def close(self) -> None:
        """A clean end: the log gets its session-end record and is never offered for resume."""
        self.audit.close()
        self.index.mark(self.audit.session_id, "closed")


def begin(
    workspace: Path,
    *,
    audit_path: Path | None = None,
    resume: ResumeCandidate | None = None,
    secrets: Iterable[str] = (),
) -> Journal:
    """Open a new session's journal, or take over a killed one's (same log, chain continued)."""
    index = SessionIndex(workspace)
    if resume is None:
        audit = AuditLog.create(workspace, path=audit_path, secrets=secrets)
        index.register(audit.session_id, audit.path)
        return Journal(audit, index)
    recovery = recover(resume.audit_path)  # read again: what counts is the log as it is now
    index.claim(resume.session_id)
    audit = AuditLog(
        resume.audit_path, session_id=resume.session_id, workspace=workspace, secrets=secrets
    )
    audit.write(
        "session-resumed",
        {
            "pid": os.getpid(),
            "summary": recovery.summary(),
            "interrupted": [
                a.action.id
                for t in recovery.turns
                for a in t.actions
                if a.state is ActionState.INTERRUPTED
            ],
            "pending": [
                a.action.id
                for t in recovery.turns
                for a in t.actions
                if a.state is ActionState.WAITING
            ],
        },
    )
    return Journal(audit, index, recovery.turns)
