"""SIGKILL at any point, then resume: pending actions come back, what ran is shown as run (or as
interrupted), nothing approved runs twice, nothing recorded is lost. Real subprocesses, real
SIGKILL; `crash_driver.py` does real (harmless) work so `ran.log` shows what really ran."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.core.audit import read_records
from app.core.verify import verify_log

DRIVER = Path(__file__).with_name("crash_driver.py")


def drive(ws: Path, mode: str, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "LOCKGATE_DATA_DIR": str(data), **env}
    return subprocess.run(
        [sys.executable, str(DRIVER), str(ws), mode],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ran_log(ws: Path) -> list[tuple[str, str]]:
    p = ws / "ran.log"
    if not p.exists():
        return []
    return [(ln.split()[0], ln.split()[1]) for ln in p.read_text().splitlines()]


def starts(ws: Path) -> list[str]:
    return [aid for what, aid in ran_log(ws) if what == "start"]


def proposals(audit: Path) -> list[str]:
    return [r["data"]["action"]["id"] for _, r in read_records(audit) if r["kind"] == "proposal"]


def the_log(data: Path) -> Path:
    (log,) = sorted((data / "audit").glob("*.jsonl"))
    return log


def check_resume(ws: Path, data: Path, out: dict[str, Any], started_before: list[str]) -> None:
    """What every resume must guarantee, whatever the moment of the kill."""
    all_starts = starts(ws)
    assert len(all_starts) == len(set(all_starts)), f"something ran twice: {all_starts}"
    assert "POLICY-DENY" not in ((ws / "ran.log").read_text() if (ws / "ran.log").exists() else "")
    log = the_log(data)
    report = verify_log(log)
    assert report.ok, report.problems
    if not out["resumable"]:
        return
    before, after = out["before"], out["after"]
    # nothing recorded is lost: every proposal the log holds came back
    assert set(before) == set(proposals(log))
    for aid in started_before:
        assert before[aid] in ("done", "failed", "interrupted"), (aid, before[aid])
    exec_starts = [
        r["data"]["action_id"] for _, r in read_records(log) if r["kind"] == "execution-start"
    ]
    for aid, state in before.items():
        if state == "interrupted":
            # its start was on disk before it ran (maybe it never got further): never again
            assert exec_starts.count(aid) == 1
            assert after[aid] == "interrupted"
            assert all_starts.count(aid) == started_before.count(aid) <= 1
    assert "waiting" not in after.values()
    # whatever came back waiting was answered and, if approved, ran exactly once now
    for aid, state in before.items():
        if state == "waiting" and after[aid] == "done":
            assert aid in all_starts and aid not in started_before


def test_sigkill_during_a_command_then_resume(tmp_path: Path) -> None:
    ws, data = tmp_path / "ws", tmp_path / "data"
    ws.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), str(ws), "run"],
        env={**os.environ, "LOCKGATE_DATA_DIR": str(data), "SLOW": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not (ws / "running").exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "driver never reached the slow command"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    slow = (ws / "running").read_text()
    started_before = starts(ws)
    assert started_before[-1] == slow

    r = drive(ws, "resume", data)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["resumable"]
    assert out["before"][slow] == "interrupted" and out["after"][slow] == "interrupted"
    # earlier actions of the turn show as run; later ones came back and ran now
    ids = list(out["before"])
    k = ids.index(slow)
    assert all(out["before"][a] == "done" for a in ids[:k])
    assert all(out["before"][a] in ("waiting", "denied") for a in ids[k + 1 :])
    assert "waiting" in [out["before"][a] for a in ids[k + 1 :]]
    assert "interrupted" in out["summary"]
    check_resume(ws, data, out, started_before)
    assert starts(ws).count(slow) == 1
    # resumed and closed cleanly: not offered again
    again = json.loads(drive(ws, "resume", data).stdout)
    assert again == {"resumable": False}


def _full_run_records(tmp_path: Path) -> int:
    ws, data = tmp_path / "full-ws", tmp_path / "full-data"
    ws.mkdir()
    r = drive(ws, "run", data)
    assert r.returncode == 0, r.stderr
    return sum(1 for _ in read_records(the_log(data)))


def test_sigkill_after_every_record_then_resume(tmp_path: Path) -> None:
    total = _full_run_records(tmp_path)
    assert total > 30
    points = sorted({1, 2, total - 2, total - 1, *range(3, total - 1, 4)})
    for n in points:
        ws, data = tmp_path / f"ws{n}", tmp_path / f"data{n}"
        ws.mkdir()
        r1 = drive(ws, "run", data, CRASH_AFTER=str(n))
        assert r1.returncode == -signal.SIGKILL, (n, r1.stderr)
        started_before = starts(ws)
        r2 = drive(ws, "resume", data)
        assert r2.returncode == 0, (n, r2.stderr)
        check_resume(ws, data, json.loads(r2.stdout), started_before)


@pytest.mark.parametrize(("first", "second"), [(14, 3), (25, 6), (33, 2)])
def test_killed_again_while_resuming(tmp_path: Path, first: int, second: int) -> None:
    ws, data = tmp_path / "ws", tmp_path / "data"
    ws.mkdir()
    assert drive(ws, "run", data, CRASH_AFTER=str(first)).returncode == -signal.SIGKILL
    r2 = drive(ws, "resume", data, CRASH_AFTER=str(second))
    assert r2.returncode == -signal.SIGKILL
    started_before = starts(ws)
    r3 = drive(ws, "resume", data)
    assert r3.returncode == 0, r3.stderr
    check_resume(ws, data, json.loads(r3.stdout), started_before)
