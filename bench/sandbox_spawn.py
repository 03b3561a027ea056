"""Spawn cost of the embedded sandbox, next to a bare subprocess and bubblewrap.

Runs `true` N times through `Sandbox.run`, `subprocess.run` and bwrap with comparable isolation
(`--unshare-all --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc --bind WS
WS`), interleaved (one of each per round) so machine noise hits all three alike, and prints the
medians and the ratio to bubblewrap. Goal: ratio <= 1.0.

    python bench/sandbox_spawn.py [N]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import Sandbox, SandboxError, SandboxPolicy


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    bwrap = shutil.which("bwrap")
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-") as tmp:
        ws = Path(tmp)
        bwrap_argv = [
            bwrap or "bwrap",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--bind", str(ws), str(ws),
            "true",
        ]  # fmt: skip
        if bwrap and subprocess.run(bwrap_argv, capture_output=True).returncode != 0:
            print("bwrap: present but cannot run here; skipped")
            bwrap = None
        try:
            sb = Sandbox(SandboxPolicy(workspace=ws))
            sb.start()
        except SandboxError as exc:
            print(f"sandbox: {exc}")
            return 1
        with sb:
            for _ in range(5):  # warm-up: zygote, spare, page cache
                sb.run(["true"])
                subprocess.run(["true"])
                if bwrap:
                    subprocess.run(bwrap_argv)
            times: dict[str, list[float]] = {"sandbox": [], "subprocess": [], "bwrap": []}
            for _ in range(n):
                times["sandbox"].append(timed(lambda: sb.run(["true"])))
                times["subprocess"].append(timed(lambda: subprocess.run(["true"])))
                if bwrap:
                    times["bwrap"].append(timed(lambda: subprocess.run(bwrap_argv)))
    print(f"spawn `true`, {n} interleaved rounds (median, ms)")
    med = {k: statistics.median(v) * 1000 for k, v in times.items() if v}
    print(f"  Sandbox.run     {med['sandbox']:7.2f}")
    print(f"  subprocess.run  {med['subprocess']:7.2f}")
    if "bwrap" in med:
        print(f"  bwrap           {med['bwrap']:7.2f}")
        print(f"  ratio sandbox/bwrap = {med['sandbox'] / med['bwrap']:.2f} (goal <= 1.0)")
    else:
        print("  bwrap           skipped (not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
