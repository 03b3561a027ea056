"""Recovery reads a log back: real sessions' records rebuild exactly, and any other record
shape (a log is input) either rebuilds or is refused with one line, never a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from corefakes import FakePolicy, FakeRisk, FilePatches, RecordingCommands, ScriptedLink, cmd, patch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.audit import AuditLog
from app.core.events import AgentCheckpoint, AgentEvent, Proposed, TurnEnded
from app.core.model import Action, Result
from app.core.pipeline import ActionState, Pipeline
from app.core.ports import SessionContext
from app.core.resume import ResumeError, recover


def test_a_finished_session_rebuilds_exactly(workspace: Path, tmp_path: Path) -> None:
    audit = AuditLog.create(workspace, path=tmp_path / "a.jsonl")
    p = Pipeline(
        context=SessionContext(workspace=workspace, headless=True),
        risk=FakeRisk(),
        policy=FakePolicy(),
        commands=RecordingCommands(),
        patches=FilePatches(workspace),
        audit=audit,
    )
    actions: list[Action] = [
        cmd("echo a", cwd="sub", timeout_s=5.0),
        cmd("CRIT x"),
        patch("f.txt=1"),
        patch("BAD"),
    ]
    asyncio.run(p.run(ScriptedLink([actions])))
    audit.close()
    rec = recover(tmp_path / "a.jsonl")
    (turn,) = rec.turns
    assert turn.results_sent
    assert [ra.action for ra in turn.actions] == actions  # every field, timestamps included
    for ra in turn.actions:
        view = p.view(ra.action.id)
        assert ra.state is view.state and ra.assessment == view.assessment
        assert ra.decision == view.decision and ra.verdict == view.verdict
        assert ra.result is not None and view.result is not None
        assert ra.result.status is view.result.status and ra.result.ran == view.result.ran
    assert rec.count(ActionState.DONE) == 2 and rec.count(ActionState.DENIED) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
action_like = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["command", "patch", "network", "x"]),
        "id": json_values,
        "turn_id": json_values,
    },
    optional={
        "command": json_values,
        "patch": json_values,
        "host": json_values,
        "port": json_values,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "proposal",
                    "assessment",
                    "decision",
                    "verdict",
                    "execution-start",
                    "execution-end",
                    "result",
                    "results-sent",
                    "odd",
                ]
            ),
            st.dictionaries(
                st.sampled_from(
                    [
                        "action",
                        "assessment",
                        "decision",
                        "verdict",
                        "result",
                        "action_id",
                        "ran",
                        "turn_id",
                    ]
                ),
                json_values | action_like,
                max_size=4,
            ),
        ),
        max_size=6,
    )
)
def test_recover_never_crashes_on_strange_records(
    tmp_path_factory: pytest.TempPathFactory, records: list[tuple[str, dict[str, object]]]
) -> None:
    path = tmp_path_factory.mktemp("r") / "a.jsonl"
    log = AuditLog(path, redact_env=False)
    for kind, data in records:
        log.write(kind, data, sync=False)
    log.close()
    try:
        recovery = recover(path)
    except ResumeError as exc:
        assert "\n" not in str(exc)
        return
    for turn in recovery.turns:
        for ra in turn.actions:
            assert isinstance(ra.action.reviewed_text, str) and isinstance(ra.action.id, str)


class CheckpointingLink:
    """One turn, with the checkpoint a live link sends before proposing it."""

    def __init__(self, action: Action) -> None:
        self.action = action
        self.results: tuple[Result, ...] = ()
        self._got = asyncio.Event()

    async def _events(self) -> AsyncIterator[AgentEvent]:
        yield AgentCheckpoint("responses", "t1", {"response_id": "resp_1", "items": [1, "two"]})
        yield Proposed(self.action)
        yield TurnEnded("t1")
        await self._got.wait()

    def events(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def submit_results(self, turn_id: str, results: Sequence[Result]) -> None:
        self.results = tuple(results)
        self._got.set()

    async def cancel(self) -> None:
        pass


def test_the_conversation_and_outputs_beside_the_log_come_back_only_as_it_vouches(
    workspace: Path, tmp_path: Path
) -> None:
    """#18.5: the agent's checkpoints and each command's output live in `<log>.kept` (the log
    holds neither); recovery takes back only what the chained log's hashes confirm."""
    path = tmp_path / "a.jsonl"
    audit = AuditLog.create(workspace, path=path)
    p = Pipeline(
        context=SessionContext(workspace=workspace),
        risk=FakeRisk(),
        policy=FakePolicy(),
        commands=RecordingCommands(),
        patches=FilePatches(workspace),
        audit=audit,
    )
    action = cmd("echo kept", turn="t1")
    asyncio.run(p.run(CheckpointingLink(action)))
    audit.close()
    log_text = path.read_text()
    assert "ZWNobyBrZXB0" not in log_text and "resp_1" not in log_text  # the log holds neither
    rec = recover(path)
    assert rec.conversation == (
        {
            "api": "responses",
            "turn_id": "t1",
            "state": {"response_id": "resp_1", "items": [1, "two"]},
        },
    )
    (turn,) = rec.turns
    (ra,) = turn.actions
    assert ra.result is not None and ra.result.stdout == b"echo kept"

    kept = path.with_name(path.name + ".kept")
    lines = kept.read_text().splitlines(keepends=True)
    forged = [
        ln.replace("resp_1", "resp_X").replace("ZWNobyBrZXB0", "cm0gLXJmIH4=") for ln in lines
    ]
    kept.write_text("".join(forged))
    rec = recover(path)
    assert rec.conversation == ()  # a checkpoint the log does not vouch for is no conversation
    (turn,) = rec.turns
    (ra,) = turn.actions
    assert ra.result is not None and ra.result.stdout == b""  # nor is an output
