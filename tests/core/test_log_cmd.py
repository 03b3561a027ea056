"""`lockgate log verify | show | export` as a user runs them (a real subprocess each)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from corefakes import FakePolicy, FakeRisk, FilePatches, RecordingCommands, ScriptedLink, cmd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.audit import AuditLog, read_records
from app.core.events import ActionStateChanged, PipelineEvent
from app.core.model import Verdict, VerdictKind
from app.core.pipeline import ActionState, Pipeline
from app.core.ports import SessionContext


def lockgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "log", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


@pytest.fixture
def session_log(workspace: Path) -> Path:
    """A real session's log in the data dir: one safe command, one edited (with backticks)."""
    audit = AuditLog.create(workspace)
    p = Pipeline(
        context=SessionContext(workspace=workspace),
        risk=FakeRisk(),
        policy=FakePolicy(),
        commands=RecordingCommands(),
        patches=FilePatches(workspace),
        audit=audit,
    )

    class Editor:
        def notify(self, event: PipelineEvent) -> None:
            if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
                edited = "grep -c ```fence``` notes.md"
                asyncio.get_running_loop().call_soon(
                    p.submit_verdict,
                    Verdict(event.action_id, VerdictKind.EDIT, edited=edited, key="e"),
                )

    p.add_observer(Editor())
    asyncio.run(p.run(ScriptedLink([[cmd("echo hello"), cmd("ASK rm -rf notes")]])))
    audit.close()
    return audit.path


def test_verify_ok(session_log: Path) -> None:
    r = lockgate("verify", str(session_log))
    assert r.returncode == 0
    assert r.stdout.startswith("ok: ") and "records" in r.stdout


def test_verify_reports_first_bad_line(session_log: Path) -> None:
    lines = session_log.read_text().splitlines(keepends=True)
    k = next(i for i, ln in enumerate(lines) if '"proposal"' in ln and "echo hello" in ln)
    lines[k] = lines[k].replace("echo hello", "echo HELLO")
    session_log.write_text("".join(lines))
    r = lockgate("verify", str(session_log))
    assert r.returncode == 1
    assert f"line {k + 1}:" in r.stderr and "edited" in r.stderr
    assert "Traceback" not in r.stderr


def test_verify_without_a_path_checks_the_last_log(session_log: Path) -> None:
    """Every run ends with "check it with `lockgate log verify`": that must work as written
    (#18.18), and say which log it checked."""
    r = lockgate("verify")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: ") and f"in {session_log}" in r.stdout
    assert "record(s)" not in r.stdout
    lines = session_log.read_text().splitlines(keepends=True)
    k = next(i for i, ln in enumerate(lines) if '"proposal"' in ln and "echo hello" in ln)
    lines[k] = lines[k].replace("echo hello", "echo HELLO")
    lines[k + 1] = lines[k + 1].replace('"seq":', '"seq": ')  # a second problem after it
    session_log.write_text("".join(lines))
    r = lockgate("verify")
    assert r.returncode == 1 and f"{session_log}: line {k + 1}:" in r.stderr
    assert "problem(s)" not in r.stderr


def test_verify_with_no_logs_yet_is_a_one_line_error() -> None:
    r = lockgate("verify")
    assert r.returncode == 2 and r.stderr.startswith("lockgate: no audit logs yet")


def test_verify_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    r = lockgate("verify", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 2
    assert r.stderr.startswith("lockgate: ") and r.stderr.count("\n") == 1


def test_show_last(session_log: Path) -> None:
    r = lockgate("show", "--last")
    assert r.returncode == 0, r.stderr
    assert "ok: " in r.stdout.splitlines()[0]
    for kind in ("session-start", "proposal", "verdict", "execution-start", "session-end"):
        assert kind in r.stdout
    assert "echo hello" in r.stdout


def test_show_without_logs_is_a_one_line_error() -> None:
    r = lockgate("show")
    assert r.returncode == 2 and r.stderr.startswith("lockgate: no audit logs")


def test_export_markdown(session_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    r = lockgate("export", "--format", "md", str(session_log), "-o", str(out))
    assert r.returncode == 0, r.stderr
    md = out.read_text()
    assert md.startswith("# lockgate audit log")
    assert "hash chain: intact" in md
    assert "```sh\necho hello\n```" in md
    # the edited command, fenced so its own backticks cannot break out
    assert "- what ran:" in md
    assert "````\ngrep -c ```fence``` notes.md\n````" in md
    assert "verdict: edit-then-approve by human, key `e`" in md


def test_show_and_export_never_send_escape_sequences(workspace: Path, tmp_path: Path) -> None:
    audit = AuditLog.create(workspace)
    evil = cmd("echo \x1b]52;c;cGF3bmVk\x07 \x1b[2J\u202e")
    audit.write("proposal", {"action": evil})
    audit.close()
    for args in (("show", "--last"), ("export", "--last")):
        r = lockgate(*args)
        assert r.returncode == 0, r.stderr
        assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\u202e" not in r.stdout
        assert "\\x1b" in r.stdout


KINDS_SEEN = [
    "proposal",
    "assessment",
    "decision",
    "verdict",
    "patch-review",
    "execution-start",
    "execution-end",
    "result",
    "results-sent",
    "network",
    "undo-end",
    "session-start",
    "odd",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(KINDS_SEEN),
            st.dictionaries(
                st.sampled_from(
                    [
                        "action",
                        "assessment",
                        "decision",
                        "verdict",
                        "result",
                        "review",
                        "action_id",
                        "digest",
                        "ran",
                        "post",
                        "pre",
                        "turn_id",
                        "action_ids",
                    ]
                ),
                json_values,
                max_size=5,
            ),
        ),
        max_size=8,
    )
)
def test_show_and_export_survive_any_record_shapes(
    tmp_path_factory: pytest.TempPathFactory, records: list[tuple[str, dict[str, object]]]
) -> None:
    """A log is input: whatever a (valid-chain) record holds, show and export do not crash."""
    from app.cli.log_cmd import export_markdown, summarise

    p = tmp_path_factory.mktemp("log") / "a.jsonl"
    log = AuditLog(p, redact_env=False)
    for kind, data in records:
        log.write(kind, data, sync=False)
    log.close()
    for _, rec in read_records(p):
        assert isinstance(summarise(rec), str)
    assert export_markdown(p).startswith("# lockgate audit log")
