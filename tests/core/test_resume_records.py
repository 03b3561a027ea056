"""Recovery reads a log back: real sessions' records rebuild exactly, and any other record
shape (a log is input) either rebuilds or is refused with one line, never a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from corefakes import FakePolicy, FakeRisk, FilePatches, RecordingCommands, ScriptedLink, cmd, patch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.audit import AuditLog
from app.core.model import Action
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
