"""SIGKILL during apply, at every step and at random moments: after recovery the workspace is
exactly the old tree or exactly the new one (bytes, modes, no temp files), never a mix."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from patchkit import apply_text, snapshot, v4a, write_tree

from app.execute.patches import WorkspacePatchExecutor
from app.patch.apply import recover

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
from pathlib import Path
from app.patch import parse_patch
from app.patch import apply as A
from app.patch.plan import build_plan

ws, patch_file, stop_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
plan = build_plan(parse_patch(Path(patch_file).read_text()), Path(ws))
count = 0

def hook(step):
    global count
    if count == stop_at:
        print("STOP", step, flush=True)
        time.sleep(60)
    count += 1

A.step_hook = hook
print("GO", flush=True)
A.apply_plan(plan)
print("DONE", count, flush=True)
"""

BEFORE = {
    "a.txt": "a1\na2\na3\n",
    "b.txt": "b1\nb2\n",
    "c/d.txt": "d\n",
    "gone.txt": "bye\n",
    "mv/src.txt": "move\n",
    **{f"bulk/{i}.txt": f"line {i}\n" * 50 for i in range(12)},
}
PATCH = v4a(
    "*** Update File: a.txt\n@@\n a1\n-a2\n+A2\n*** Update File: b.txt\n@@\n-b2\n+B2\n"
    "*** Delete File: gone.txt\n*** Add File: new/dir/n.txt\n+n\n*** Add File: c/e.txt\n+e\n"
    "*** Update File: mv/src.txt\n*** Move to: mv2/dst.txt\n@@\n-move\n+moved\n"
    + "".join(f"*** Update File: bulk/{i}.txt\n@@\n+tail {i}\n" for i in range(12))
)


State = dict[str, tuple[str, bytes | str, int]]
Trees = tuple[State, State]


def _state(root: Path) -> State:
    return {
        rel: (kind, data, mode if kind != "dir" else 0)
        for rel, (kind, data, mode, _ino) in snapshot(root, skip_store=True).items()
    }


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> Trees:
    base = tmp_path_factory.mktemp("expected")
    old = base / "old"
    old.mkdir()
    write_tree(old, BEFORE)
    new = base / "new"
    shutil.copytree(old, new)
    apply_text(new, PATCH)
    return _state(old), _state(new)


def _run_child(tmp_path: Path, stop_at: int, delay: float | None) -> tuple[Path, str]:
    ws = tmp_path / f"ws-{stop_at}-{delay}"
    ws.mkdir()
    write_tree(ws, BEFORE)
    patch_file = tmp_path / "patch.txt"
    patch_file.write_text(PATCH)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ws), str(patch_file), str(stop_at)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "GO"
    seen = ""
    if delay is None:
        seen = proc.stdout.readline().strip()
    else:
        time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return ws, seen


def _check(ws: Path, expected: Trees, label: str, via_executor: bool = False) -> str:
    if via_executor:  # the console's next start
        ex = WorkspacePatchExecutor(ws)
        assert ex.recovery_error == ""
    else:
        recover(ws)
    got = _state(ws)
    old, new = expected
    if got == old:
        return "old"
    if got == new:
        return "new"
    diff = sorted(set(got.items()) ^ set(old.items()))[:6]
    raise AssertionError(f"{label}: neither old nor new tree after recovery: {diff}")


def test_sigkill_at_every_step(tmp_path: Path, expected: Trees) -> None:
    n_files = 6 + 12 + 1  # the move touches two paths
    steps = 1 + n_files + n_files + 1  # journal, prepare×n, commit×n, committed
    outcomes = []
    for stop_at in range(steps):
        ws, seen = _run_child(tmp_path, stop_at, None)
        assert seen.startswith("STOP"), seen
        outcomes.append((seen.split()[1], _check(ws, expected, seen, stop_at % 2 == 1)))
    assert outcomes[-1] == ("committed", "new")
    assert all(result == "old" for step, result in outcomes if step != "committed")
    assert {step for step, _ in outcomes} == {"journal", "prepare", "commit", "committed"}


def test_sigkill_at_random_moments(tmp_path: Path, expected: Trees) -> None:
    rng = random.Random(1234)
    results = set()
    for _ in range(10):
        ws, _seen = _run_child(tmp_path, -1, rng.uniform(0.0, 0.03))
        results.add(_check(ws, expected, "random kill"))
    assert results <= {"old", "new"}
