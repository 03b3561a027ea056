"""Spawn cost of the embedded sandbox, next to a bare subprocess and bubblewrap.

Runs `true` N times through `Sandbox.run`, `subprocess.run` and bwrap with comparable isolation
(`--unshare-all --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc --bind WS
WS`), interleaved (one of each per round) so machine noise hits all three alike, and prints the
medians and the ratio to bubblewrap. Goal: ratio <= 1.0.

The sandbox keeps spare sandboxes ready and refills them after each run; before every timed
call the bench waits until that background work is done, so no tool is timed while another's
leftovers run. "cold" is a run with no spare ready (its sandbox is made on demand).

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
from typing import Any

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
        zygote = getattr(sb._impl, "zygote", None)

        def settle() -> None:
            if zygote is not None:
                zygote.settle()
            time.sleep(0.005)

        with sb:
            for _ in range(5):  # warm-up: zygote, spares, page cache
                sb.run(["true"])
                subprocess.run(["true"])
                if bwrap:
                    subprocess.run(bwrap_argv)
            times: dict[str, list[float]] = {
                k: [] for k in ("sandbox", "cold", "subprocess", "bwrap")
            }
            for i in range(n):
                settle()
                times["sandbox"].append(timed(lambda: sb.run(["true"])))
                settle()
                times["subprocess"].append(timed(lambda: subprocess.run(["true"])))
                if bwrap:
                    settle()
                    times["bwrap"].append(timed(lambda: subprocess.run(bwrap_argv)))
                if zygote is not None and i % 4 == 0:
                    settle()
                    zygote.drop_spares()
                    time.sleep(0.02)  # let the dropped sandboxes go away
                    times["cold"].append(timed(lambda: sb.run(["true"])))
    med = {k: statistics.median(v) * 1000 for k, v in times.items() if v}
    print(f"spawn `true`, {n} interleaved rounds (median, ms)")
    print(f"  Sandbox.run         {med['sandbox']:7.2f}   (a spare ready, the usual case)")
    if "cold" in med:
        print(f"  Sandbox.run, cold   {med['cold']:7.2f}   (no spare ready: made on demand)")
    print(f"  subprocess.run      {med['subprocess']:7.2f}")
    if "bwrap" in med:
        print(f"  bwrap               {med['bwrap']:7.2f}")
        print(f"  ratio sandbox/bwrap = {med['sandbox'] / med['bwrap']:.2f} (goal <= 1.0)")
        if "cold" in med:
            print(f"  ratio cold/bwrap    = {med['cold'] / med['bwrap']:.2f}")
    else:
        print("  bwrap               skipped (not installed)")
    _read_allow_list_cost()
    return 0


def _read_allow_list_cost() -> None:
    """What reads by allow-list cost (issue #11): building the Landlock read rules (once per
    Sandbox, and again only when a split directory changes), the per-run freshness check, and
    applying the rules in a spare's init (timed here in a throwaway child, as init does it)."""
    import os

    from sandbox.linux import landlock
    from sandbox.linux.mounts import private_views
    from sandbox.policy import (
        default_deny_read,
        default_readable,
        default_toolchains,
        home_dirs,
    )
    from sandbox.visible import read_set

    kw: dict[str, Any] = {
        "homes": [str(h) for h in home_dirs()],
        "deny": [str(d) for d in default_deny_read()],
        "extra": [str(p) for p in (*default_readable(), *default_toolchains())],
        "views": private_views(os.environ.get("XDG_RUNTIME_DIR")),
        "root_only": os.geteuid() == 0,
    }
    builds = []
    for _ in range(5):
        builds.append(timed(lambda: read_set(**kw)))
    reads = read_set(**kw)
    fresh = [timed(reads.fresh) for _ in range(200)]
    abi = landlock.abi_version()
    apply_us = statistics.median(_landlock_apply(abi, reads.rules) for _ in range(20)) * 1e6
    full = statistics.median(_landlock_apply(abi, ("/",)) for _ in range(20)) * 1e6
    print(
        f"reads by allow-list ({len(reads.rules)} Landlock read rules, "
        f"{len(reads.excluded)} owner-only entries left out, root scan: {kw['root_only']})"
    )
    print(
        f"  build the rule set     {statistics.median(builds) * 1000:7.2f} ms  (once per Sandbox)"
    )
    print(
        f"  per-run freshness      {statistics.median(fresh) * 1e6:7.1f} µs  "
        f"({len(reads.stamps)} split directories stat'ed)"
    )
    print(
        f"  apply in init          {apply_us:7.1f} µs  (vs {full:.1f} µs for one rule on /; "
        "made ahead in a spare)"
    )


def _landlock_apply(abi: int, rules: tuple[str, ...]) -> float:
    """Seconds a child takes to restrict itself with `rules` (read rights), as init does."""
    import os

    from sandbox.linux import landlock
    from sandbox.linux import syscalls as sc

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        t = time.perf_counter()
        landlock.restrict_self(abi, [landlock.PathRule(p, landlock.READ) for p in rules])
        os.write(w, str(time.perf_counter() - t).encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    return float(out or 0)


if __name__ == "__main__":
    sys.exit(main())
