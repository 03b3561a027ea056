"""Whole-command costs of lockgate's one-shot paths, hyperfine-style, next to bubblewrap and
(where installed) Codex's sandbox in the same run.

Every command is started N times as a new process from this one (a cold interpreter each time,
warm page cache), interleaved round by round so machine noise hits all of them alike. Printed per
command: mean, median and min wall time, mean CPU time (user+sys of the process and the children
it waited for: steadier on a busy machine, but without the sandbox's own processes, which are
reaped by the kernel), and for the sandbox the ratio to bubblewrap. The goals of issue #19 are shown
beside the figures.

    python bench/oneshot.py [N] [WORD...]     (WORD: only commands whose name contains it)

Everything runs under temp dirs (a temp HOME, where lockgate finds its config and data dirs as it
would on a desk; Codex's home there too, with its TMPDIR a second temp dir): "cached" is
the sandbox run with the read allow-list already kept in the data dir by an earlier run (what
every call after the first sees for 300 s), "uncached" gets an empty data dir each time, and
"zygote path" is the click command with a zygote process (what `--allow-degraded` or a network
allow-list takes; on a kernel with every layer, --allow-degraded drops none).

On a shared, busy machine run it under `chrt -f 50` (root) for figures that do not depend on
what else runs; the ratios to bwrap hold either way.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli import SUBCOMMANDS  # noqa: E402


@dataclass
class Case:
    name: str
    argv: list[str]
    goal_ms: float | None = None
    stdin: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    fresh_data_dir: bool = False
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    failed: str = ""


def run_once(case: Case, base_env: dict[str, str], tmp: Path) -> None:
    env = {**base_env, **case.env}
    if case.fresh_data_dir:
        data = Path(tempfile.mkdtemp(prefix="data-", dir=tmp))
        env["LOCKGATE_DATA_DIR"] = str(data)
    start = time.perf_counter()
    proc = subprocess.Popen(
        case.argv,
        stdin=subprocess.PIPE if case.stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    _, err = proc.communicate(case.stdin)
    case.wall.append(time.perf_counter() - start)
    case.cpu.append(_child_usage_delta())
    if proc.returncode not in (0, 1) and not case.failed:
        case.failed = f"exit {proc.returncode}: {err.decode(errors='replace').strip()[:200]}"
    if case.fresh_data_dir:
        shutil.rmtree(env["LOCKGATE_DATA_DIR"], ignore_errors=True)


_last_children = 0.0


def _child_usage_delta() -> float:
    """CPU seconds our reaped children (and theirs) used since the last call."""
    global _last_children
    t = os.times()
    total = t.children_user + t.children_system
    delta = total - _last_children
    _last_children = total
    return delta


def cases(ws: Path, lockgate: list[str]) -> list[Case]:
    out = [
        Case("python -I -S -c pass", [sys.executable, "-I", "-S", "-c", "pass"]),
        Case("python -c pass", [sys.executable, "-c", "pass"]),
        Case(
            "lockgate sandbox run (cached)",
            [*lockgate, "sandbox", "run", "--workspace", str(ws), "--", "/bin/true"],
            goal_ms=50,
        ),
        Case(
            "lockgate sandbox run (uncached)",
            [*lockgate, "sandbox", "run", "--workspace", str(ws), "--", "/bin/true"],
            fresh_data_dir=True,
        ),
        Case(
            "lockgate sandbox run (zygote path)",
            [
                *lockgate,
                "sandbox",
                "run",
                "--allow-degraded",
                *("--workspace", str(ws)),
                "--",
                "/bin/true",
            ],
        ),
    ]
    bwrap = shutil.which("bwrap")
    if bwrap:
        argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session"]
        argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        argv += ["--bind", str(ws), str(ws), "/bin/true"]
        if subprocess.run(argv, capture_output=True).returncode == 0:
            out.append(Case("bwrap --unshare-all … /bin/true", argv))
        else:
            print("bwrap: present but cannot run here; skipped")
    else:
        print("bwrap: not installed (make bench installs it); skipped")
    for name, codex in _codexes():
        argv = [codex, "sandbox", "--", "/bin/true"]
        if subprocess.run(argv, capture_output=True, cwd=ws, env=_codex_env(ws)).returncode == 0:
            out.append(Case(name, argv, env=_codex_env(ws)))
        else:
            print(f"{name}: present but cannot run here; skipped")
    risk = [*lockgate, "risk", "--", "pip install reqeusts"]
    out.append(Case("lockgate risk -- 'pip install reqeusts'", risk, goal_ms=150))
    if "hook" in SUBCOMMANDS:
        event = {
            "session_id": "bench",
            "cwd": str(ws),
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "ls -la"},
            "tool_use_id": "t1",
            "permission_mode": "default",
        }
        out.append(
            Case(
                "lockgate hook claude --policy-only",
                [*lockgate, "hook", "claude", "--policy-only", "--workspace", str(ws)],
                goal_ms=150,
                stdin=json.dumps(event).encode(),
            )
        )
    out.append(Case("lockgate --help", [*lockgate, "--help"], goal_ms=80))
    for name in sorted(SUBCOMMANDS):
        out.append(Case(f"lockgate {name} --help", [*lockgate, name, "--help"], goal_ms=80))
    out.append(
        Case("lockgate sandbox run --help", [*lockgate, "sandbox", "run", "--help"], goal_ms=80)
    )
    return out


def _codexes() -> list[tuple[str, str]]:
    """Codex on PATH, else the pinned one `make agents` installs: its npm launcher (a node start
    before the native binary) and the native binary itself (what the issue's 48.7 ms measured)."""
    found = shutil.which("codex")
    if found:
        return [("codex sandbox -- /bin/true", found)]
    out = []
    launcher = ROOT / ".agents" / "node_modules" / ".bin" / "codex"
    if launcher.exists():
        out.append(("codex sandbox (npm launcher)", str(launcher)))
    vendor = ROOT / ".agents" / "node_modules" / "@openai"
    native = sorted(vendor.glob("codex-linux-*/vendor/*/bin/codex"))
    if native:
        out.append(("codex sandbox (native binary)", str(native[0])))
    if not out:
        print("codex: not installed (make agents installs it); skipped")
    return out


def _codex_env(ws: Path) -> dict[str, str]:
    """Codex's home under the bench's temp dir. Codex refuses helper binaries under the system's
    temp dir, so its TMPDIR is a second temp dir (under /var/tmp) made for the bench."""
    home = ws.parent / "codex-home"
    (home / ".codex").mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "CODEX_HOME": str(home / ".codex"), "TMPDIR": _CODEX_TMP}


_CODEX_TMP = ""


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    exe = shutil.which("lockgate", path=str(Path(sys.executable).parent))
    lockgate = [exe] if exe else [sys.executable, "-m", "app"]
    global _CODEX_TMP
    with (
        tempfile.TemporaryDirectory(prefix="lockgate-oneshot-") as tmp_s,
        tempfile.TemporaryDirectory(prefix="lockgate-codex-", dir="/var/tmp") as codex_tmp,
    ):
        _CODEX_TMP = codex_tmp
        tmp = Path(tmp_s)
        ws = tmp / "ws"
        ws.mkdir()
        # lockgate's own config and data dirs under a temp HOME, found as on a desk (no
        # LOCKGATE_*_DIR override: the real lookup is part of the cold start)
        (tmp / "home").mkdir()
        # PYTHONDONTWRITEBYTECODE dropped: with it, a module edited since its last compile is
        # compiled from source on every run (the warm-ups would not fix it), which times the
        # checkout, not lockgate
        skip = ("LOCKGATE_", "XDG_", "PYTHONDONTWRITEBYTECODE")
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(skip)},
            "HOME": str(tmp / "home"),
        }
        words = sys.argv[2:]
        todo = [c for c in cases(ws, lockgate) if not words or any(w in c.name for w in words)]
        _child_usage_delta()
        for case in todo:  # warm-up: page cache, .pyc files, the kept read allow-list
            for _ in range(2):
                run_once(case, base_env, tmp)
            case.wall.clear()
            case.cpu.clear()
        for _ in range(n):
            for case in todo:
                run_once(case, base_env, tmp)
    bw = next((c for c in todo if c.name.startswith("bwrap")), None)
    bw_mean = statistics.mean(bw.wall) if bw else None
    codex = next(
        (c for c in todo if c.name.startswith("codex sandbox") and "npm" not in c.name), None
    )
    codex_mean = statistics.mean(codex.wall) if codex and codex.wall else None
    print(f"{n} runs each, interleaved; load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':<40} {'mean':>7} {'median':>7} {'min':>7} {'cpu':>7}  goal")
    for c in todo:
        mean = statistics.mean(c.wall) * 1e3
        row = (
            f"{c.name:<40} {mean:7.1f} {statistics.median(c.wall) * 1e3:7.1f} "
            f"{min(c.wall) * 1e3:7.1f} {statistics.mean(c.cpu) * 1e3:7.1f}"
        )
        note = ""
        if c.goal_ms is not None:
            note = f"  <= {c.goal_ms:g} ms: {'ok' if mean <= c.goal_ms else 'MISSED'}"
        if bw_mean and c.name.startswith("lockgate sandbox run ("):
            note += f"  ({mean / (bw_mean * 1e3):.1f}x bwrap)"
        if codex_mean and c.name == "lockgate sandbox run (cached)":
            ratio = mean / (codex_mean * 1e3)
            note += f"  ({ratio:.2f}x codex; goal <= 1.25x: {'ok' if ratio <= 1.25 else 'MISSED'})"
        if c.failed:
            note += f"  FAILED {c.failed}"
        print(row + note)
    return 1 if any(c.failed for c in todo) else 0


if __name__ == "__main__":
    sys.exit(main())
