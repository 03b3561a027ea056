"""The hook round trip, as an agent pays it: `lockgate hook claude` started as a process with
a PreToolUse event on stdin, answered by a running `lockgate serve` (an auto-approved Bash
command: client start + socket + assess + decide + audit + answer), and with `--policy-only`
(no console: the whole decision in the hook process). Goals (#19): ≤ 50 ms and ≤ 150 ms.
The policy-only call is timed again in a session whose log already holds 5,000 records
(`BENCH_HOOK_LONG_RECORDS`): opening the log must not cost more as a session grows.

Also: the console-down denial, the server's own share (the same request from inside this
process, no process start), and Python's bare start for scale. Touches only temp dirs and a
private unix socket.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
LOCKGATE = str(BIN / "lockgate")
RUNS = int(os.environ.get("BENCH_HOOK_RUNS", "20"))
LONG_RECORDS = int(os.environ.get("BENCH_HOOK_LONG_RECORDS", "5000"))


def event(ws: Path, command: str = "ls -la") -> bytes:
    return tool_event(ws, "Bash", {"command": command, "description": "list"})


def tool_event(ws: Path, tool: str, tool_input: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "session_id": "bench-session",
            "transcript_path": "/tmp/bench.jsonl",
            "cwd": str(ws),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": tool,
            "tool_input": tool_input,
            "tool_use_id": "toolu_bench",
        }
    ).encode()


CPU: dict[int, float] = {}  # id(list of wall times) -> mean CPU ms of those runs


def timed(argv: list[str], stdin: bytes, env: dict[str, str], runs: int) -> list[float]:
    """Wall-clock ms per run; the runs' mean CPU time (user + sys of the process) is kept too:
    on a machine shared with other work, CPU time says what the process itself costs."""
    out: list[float] = []
    cpu = 0.0
    for i in range(runs + 2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, input=stdin, capture_output=True, env=env, check=False)
        took = (time.perf_counter() - start) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i >= 2:
            cpu += (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv)} failed: {done.stderr.decode()[-400:]}")
        if i >= 2:  # two warm-up runs (page cache, pyc)
            out.append(took)
    CPU[id(out)] = cpu / max(1, len(out))
    return out


def show(label: str, ms: list[float], goal: float | None = None) -> None:
    mean = statistics.fmean(ms)
    sd = statistics.stdev(ms) if len(ms) > 1 else 0.0
    tail = f"   goal ≤ {goal:g} ms: {'met' if mean <= goal else 'NOT met'}" if goal else ""
    cpu = f"  cpu {CPU[id(ms)]:5.1f}" if id(ms) in CPU else " " * 11
    print(
        f"  {label:<54} mean {mean:6.1f} ms ± {sd:4.1f}  min {min(ms):6.1f}  "
        f"median {statistics.median(ms):6.1f}{cpu}  (n={len(ms)}){tail}"
    )


def decision(out: bytes) -> str:
    return str(json.loads(out)["hookSpecificOutput"]["permissionDecision"])


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="lg-bench-hook-", dir="/tmp"))
    ws = base / "ws"
    ws.mkdir()
    rdir = base / "run"
    rdir.mkdir(mode=0o700)
    env = dict(os.environ)
    # A user's lockgate runs from compiled .pyc files; with this set, every module edited since
    # the last compile would be compiled from source on every run (and the warm-ups would not
    # fix it), which measures the checkout, not lockgate.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        LOCKGATE_RUNTIME_DIR=str(rdir),
        LOCKGATE_CONFIG_DIR=str(base / "config"),
        LOCKGATE_DATA_DIR=str(base / "data"),
    )
    serve = subprocess.Popen(
        [LOCKGATE, "serve", "--headless", "-w", str(ws)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # read only when it failed
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.suffix == ".json" for p in rdir.iterdir()):
            if serve.poll() is not None or time.monotonic() > deadline:
                err = serve.stderr.read().decode() if serve.stderr else ""
                raise SystemExit(f"bench: lockgate serve did not start: {err[-400:]}")
            time.sleep(0.05)
        ev = event(ws)
        first = subprocess.run(
            [LOCKGATE, "hook", "claude"], input=ev, capture_output=True, env=env, check=True
        )
        if decision(first.stdout) != "allow":
            serve.terminate()
            err = serve.stderr.read().decode() if serve.stderr else ""
            raise SystemExit(f"bench: the first call was not allowed: {first.stdout!r}\n{err}")
        print(f"hook round trip ({RUNS} runs each, after 2 warm-ups)")
        show(
            "python3 -I -S -c pass (for scale)",
            timed([sys.executable, "-I", "-S", "-c", "pass"], b"", env, RUNS),
        )
        show(
            "python3 -c pass (with site, for scale)",
            timed([sys.executable, "-c", "pass"], b"", env, RUNS),
        )
        show(
            "lockgate hook claude → serve (auto-approved Bash)",
            timed([LOCKGATE, "hook", "claude"], ev, env, RUNS),
            50,
        )
        show(
            "lockgate hook claude --policy-only",
            timed([LOCKGATE, "hook", "claude", "--policy-only"], ev, env, max(5, RUNS // 2)),
            150,
        )
        (ws / "app.py").write_text("def f():\n    return 1\n")
        read = tool_event(ws, "Read", {"file_path": str(ws / "app.py")})
        show(
            "lockgate hook claude --policy-only (a Read)",
            timed([LOCKGATE, "hook", "claude", "--policy-only"], read, env, max(5, RUNS // 2)),
        )
        edit = tool_event(
            ws,
            "Edit",
            {"file_path": str(ws / "app.py"), "old_string": "return 1", "new_string": "return 2"},
        )
        show(
            "lockgate hook claude --policy-only (an Edit)",
            timed([LOCKGATE, "hook", "claude", "--policy-only"], edit, env, max(5, RUNS // 2)),
        )
        long_ev = json.dumps(dict(json.loads(ev), session_id="bench-long")).encode()
        n = prefill_long_session(base / "data", LONG_RECORDS)
        show(
            f"lockgate hook claude --policy-only ({n:,}-record log)",
            timed([LOCKGATE, "hook", "claude", "--policy-only"], long_ev, env, max(5, RUNS // 2)),
            150,
        )
        sandbox_run(ws, env)
        down = dict(env, LOCKGATE_RUNTIME_DIR=str(base / "nothing-here"))
        show(
            "lockgate hook claude, console down (deny)",
            timed([LOCKGATE, "hook", "claude"], ev, down, RUNS),
        )
        show("server share: one request, in-process client", in_process(rdir, ev, RUNS * 5))
    finally:
        serve.terminate()
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
        shutil.rmtree(base, ignore_errors=True)


def sandbox_run(ws: Path, env: dict[str, str]) -> None:
    """`lockgate sandbox run -- /bin/true` handed to the serve (its warm zygote starts the
    sandbox) and run by the CLI itself (`LOCKGATE_NO_HANDOFF=1`), in alternating blocks."""
    argv = [LOCKGATE, "sandbox", "run", "--workspace", str(ws), "--", "/bin/true"]
    cold = dict(env, LOCKGATE_NO_HANDOFF="1")
    probe = subprocess.run(
        argv, capture_output=True, env=dict(env, LOCKGATE_HANDOFF_DEBUG="1"), check=True
    )
    if b"hand-off: run by the console" not in probe.stderr:
        raise SystemExit(f"bench: the serve did not take the run: {probe.stderr.decode()}")
    blocks: dict[str, list[list[float]]] = {"handed": [], "cold": []}
    for _ in range(2):
        blocks["handed"].append(timed(argv, b"", env, max(5, RUNS // 2)))
        blocks["cold"].append(timed(argv, b"", cold, max(5, RUNS // 2)))
    handed, itself = ([ms for block in blocks[k] for ms in block] for k in ("handed", "cold"))
    CPU[id(handed)] = statistics.fmean(CPU[id(b)] for b in blocks["handed"])
    CPU[id(itself)] = statistics.fmean(CPU[id(b)] for b in blocks["cold"])
    show("lockgate sandbox run -- /bin/true, handed to serve", handed)
    show("lockgate sandbox run -- /bin/true, NO_HANDOFF=1", itself)


def prefill_long_session(data_dir: Path, records: int) -> int:
    """The `bench-long` session's hook log, filled with `records` records copied from the ones
    the policy-only runs above wrote (same kinds, same sizes): a session ~600 tool calls long.
    Returns the records in the log."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app.core.audit import AuditLog, read_records

    hooks = data_dir / "audit" / "hooks"
    sample = [rec for _, rec in read_records(hooks / "claude-bench-session.jsonl")]
    sample = [rec for rec in sample if rec["kind"] != "session-start"]
    log = AuditLog(hooks / "claude-bench-long.jsonl", session_id="hook-claude-bench-long")
    log.write("session-start", {"workspace": str(data_dir), "pid": os.getpid()}, sync=False)
    while log.records < records:
        rec = sample[log.records % len(sample)]
        log.write(rec["kind"], rec["data"], sync=False)
    log.close(clean=False)
    return log.records


def in_process(rdir: Path, ev: bytes, runs: int) -> list[float]:
    """socket + assess + decide + audit + answer, without any process start."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app.hooks.endpoint import load_endpoint
    from app.hooks.wire import request_line

    ep_file = next(p for p in rdir.iterdir() if p.suffix == ".json")
    ep = load_endpoint(str(ep_file))
    line = request_line(ep.token(), "claude", json.loads(ev), 30.0)
    out: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        s = socket.socket(socket.AF_UNIX)
        s.connect(ep.socket)
        s.sendall(line)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        out.append((time.perf_counter() - start) * 1000)
        assert b'"allow"' in buf, buf
    return out


if __name__ == "__main__":
    main()
