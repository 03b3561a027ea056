"""Benchmark: parse, review (plan + render) and apply a 5,000-line, 200-file V4A patch.

Prints wall time per phase and peak memory (tracemalloc peak of Python objects, and the
process's max RSS). Run: .venv/bin/python bench/patch.py
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.patch import parse_patch
from app.patch.apply import apply_plan, undo_last
from app.patch.plan import build_plan

N_UPDATE, N_ADD, N_DELETE = 150, 30, 20
FILE_LINES = 300


def make_tree(root: Path) -> None:
    for i in range(N_UPDATE + N_DELETE):
        d = root / f"pkg{i % 10}"
        d.mkdir(exist_ok=True)
        lines = [f"def f_{i}_{k}(x):\n    return x + {k}\n" for k in range(FILE_LINES // 2)]
        (d / f"mod{i}.py").write_text("".join(lines))


def make_patch() -> str:
    out = ["*** Begin Patch"]
    for i in range(N_UPDATE):
        out.append(f"*** Update File: pkg{i % 10}/mod{i}.py")
        for k in (10, 60, 110):
            out += [
                f"@@ def f_{i}_{k}(x):",
                f"-    return x + {k}",
                f"+    return x * {k}",
                f" def f_{i}_{k + 1}(x):",
                f"     return x + {k + 1}",
                f"+# touched {k}",
            ]
        out += [f"@@ def f_{i}_140(x):", "-    return x + 140", "+    return 0"]
    for i in range(N_ADD):
        out.append(f"*** Add File: new/sub{i % 5}/gen{i}.py")
        out += [f"+VALUE_{i}_{k} = {k}" for k in range(55)]
    for i in range(N_UPDATE, N_UPDATE + N_DELETE):
        out.append(f"*** Delete File: pkg{i % 10}/mod{i}.py")
    out.append("*** End Patch")
    return "\n".join(out) + "\n"


def run_once(text: str, traced: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        make_tree(root)
        if traced:
            tracemalloc.start()
        t0 = time.perf_counter()
        parsed = parse_patch(text)
        t1 = time.perf_counter()
        plan = build_plan(parsed, root)
        t2 = time.perf_counter()
        applied = apply_plan(plan)
        t3 = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
        undo_last(root)
        t4 = time.perf_counter()
    return {
        "files": len(parsed.files),
        "paths": len(applied.files),
        "diff_lines": len(plan.unified_diff.splitlines()),
        "parse": t1 - t0,
        "review": t2 - t1,
        "apply": t3 - t2,
        "undo": t4 - t3,
        "peak": peak,
    }


def main() -> None:
    # journal digests go to lockgate's data dir; keep the benchmark's out of the user's
    os.environ.setdefault("LOCKGATE_DATA_DIR", tempfile.mkdtemp(prefix="lockgate-bench-"))
    text = make_patch()
    n_lines = text.count("\n")
    runs = [run_once(text, traced=False) for _ in range(3)]
    best = {k: min(r[k] for r in runs) for k in ("parse", "review", "apply", "undo")}
    mem = run_once(text, traced=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r = runs[0]
    print(f"patch: {n_lines} lines, {r['files']} files ({r['paths']} paths changed)")
    print(f"diff shown to the reviewer: {r['diff_lines']} lines")
    print("best of 3:")
    print(f"  parse:  {best['parse'] * 1000:8.1f} ms")
    print(f"  review: {best['review'] * 1000:8.1f} ms  (read, match, render)")
    print(
        f"  apply:  {best['apply'] * 1000:8.1f} ms  (lock, stale check, journal, pre-images, fsync, rename)"
    )
    total = best["parse"] + best["review"] + best["apply"]
    print(f"  total:  {total * 1000:8.1f} ms")
    print(f"  undo:   {best['undo'] * 1000:8.1f} ms")
    print(f"peak traced Python memory (parse+review+apply): {mem['peak'] / 1e6:.1f} MB")
    print(f"process max RSS: {rss_mb:.1f} MB")


if __name__ == "__main__":
    main()
