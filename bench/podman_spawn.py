"""Per-command cost of the podman backend, next to the Linux backend and plain `podman run --rm`.

Runs `true` N times (interleaved, one of each per round, so machine noise hits all alike) through:
  linux         Sandbox.run on the Linux backend (a spare ready)
  podman init   Sandbox.run on the podman backend, commands forked by the container's init
  podman exec   the same with LOCKGATE_PODMAN_MODE=exec (one `podman exec` per command, and
                one more after it that kills what the command left running)
  podman run    a fresh `podman run --rm` of the same image per command (what a backend
                without a long-lived container would pay)
and prints the medians and the ratios; plus the session's one-off costs (the probe, the first
command, which starts the container, and close). Skips, saying why, without podman or the image.

    python bench/podman_spawn.py [N]
"""

from __future__ import annotations

import os
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
from sandbox.podman.cli import podman_for
from sandbox.podman.support import DEFAULT_IMAGE, probe_podman


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    if shutil.which("podman") is None:
        print("podman: not installed; skipped (apt-get install podman runc)")
        return 0
    podman = podman_for()
    support = probe_podman(podman, DEFAULT_IMAGE, None)
    if not support.can_run():
        print(f"podman: {support.refusal()}; skipped")
        return 0
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-", dir="/var/tmp") as tmp:
        ws = Path(tmp)
        linux = Sandbox(SandboxPolicy(workspace=ws))
        try:
            linux.start()
        except SandboxError as exc:
            print(f"linux backend: {exc}; its column is skipped")
            linux = None  # type: ignore[assignment]
        once: dict[str, float] = {}
        once["probe (podman info)"] = timed(
            lambda: probe_podman(podman, DEFAULT_IMAGE, None, fresh=True)
        )
        init = Sandbox(SandboxPolicy(workspace=ws, backend="podman"))
        init.start()
        once["first (container start)"] = timed(lambda: init.run(["true"]))
        os.environ["LOCKGATE_PODMAN_MODE"] = "exec"
        execs = Sandbox(SandboxPolicy(workspace=ws, backend="podman"))
        execs.run(["true"])
        del os.environ["LOCKGATE_PODMAN_MODE"]
        plain = podman.argv(
            "run", "--rm", "--network", "none", "--read-only",
            "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=516:516",
            "--mount", "type=bind,src=/usr,dst=/usr,ro=true",
            "--mount", f"type=bind,src={ws},dst={ws}", DEFAULT_IMAGE, "true",
        )  # fmt: skip
        runs: dict[str, Callable[[], object]] = {
            "podman init": lambda: init.run(["true"]),
            "podman exec": lambda: execs.run(["true"]),
            "podman run --rm": lambda: subprocess.run(plain, check=True, capture_output=True),
        }
        if linux is not None:
            runs = {"linux": lambda: linux.run(["true"]), **runs}
        samples: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(n):
            for name, fn in runs.items():
                if name == "linux":
                    linux._impl.zygote.settle()  # type: ignore[union-attr]
                samples[name].append(timed(fn))
        once["close"] = timed(init.close)
        execs.close()
        if linux is not None:
            linux.close()
    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    where = "rootless" if support.rootless else "rootful"
    print(f"podman {support.podman_version} ({where}, runtime {support.runtime})")
    print(f"per command, `true`, {n} interleaved rounds (median, ms)")
    for name, ms in med.items():
        print(f"  {name:<16} {ms:8.2f}")
    base = med["podman run --rm"]
    print(f"  ratio podman init / podman run --rm = {med['podman init'] / base:.3f}")
    print(f"  ratio podman exec / podman run --rm = {med['podman exec'] / base:.3f}")
    print(f"  ratio podman init / podman exec     = {med['podman init'] / med['podman exec']:.3f}")
    if "linux" in med:
        print(f"  ratio podman init / linux           = {med['podman init'] / med['linux']:.2f}")
    print("once per session (s): " + ", ".join(f"{k} {v:.2f}" for k, v in once.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
