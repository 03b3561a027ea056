"""Output scanner: recall and false positives on the labelled corpus (and the held-out set),
plus throughput on ordinary and large outputs.

Prints figures; asserts nothing. Run: .venv/bin/python bench/injection.py
Goals (issue #15): recall >= 90 %, false positives <= 5 %.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.injection.scanner import scan  # noqa: E402

DATA = ROOT / "tests" / "injection" / "data"


def rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def report(title: str, items: list[dict[str, str]]) -> None:
    attacks = [r for r in items if r["label"] == "injection"]
    benign = [r for r in items if r["label"] == "benign"]
    missed = [r for r in attacks if not scan(r["text"]).injection]
    flagged = [r for r in benign if scan(r["text"]).injection]
    recall = 100 * (1 - len(missed) / len(attacks))
    fp = 100 * len(flagged) / len(benign)
    print(
        f"{title:<10} injected {len(attacks):>3}  benign {len(benign):>3}  "
        f"recall {recall:5.1f} %  false positives {fp:4.1f} %"
    )
    for r in missed:
        print(f"  missed   {r['id']} ({r.get('technique', '?')})")
    for r in flagged:
        print(f"  flagged  {r['id']} ({r.get('carrier', '?')})")


def throughput(items: list[dict[str, str]]) -> None:
    texts = [r["text"] for r in items]
    times: list[float] = []
    for _ in range(5):
        for t in texts:
            t0 = time.perf_counter()
            scan(t)
            times.append(time.perf_counter() - t0)
    times.sort()
    print(
        f"per output ({len(texts)} outputs x5): p50 {1000 * statistics.median(times):.3f} ms  "
        f"p99 {1000 * times[int(0.99 * len(times))]:.3f} ms"
    )
    for size in (4 << 10, 32 << 10):
        chunk = ("PASSED tests/test_x.py::test_case[param] in 0.01s\n" * 1000)[:size]
        t0 = time.perf_counter()
        scan(chunk)
        print(
            f"{size >> 10} KiB output (32 KiB is what the model is sent at most): "
            f"{1000 * (time.perf_counter() - t0):.1f} ms"
        )
    big = ("PASSED tests/test_x.py::test_case[param] in 0.01s\n" * 20_000)[: 1 << 20]
    t0 = time.perf_counter()
    scan(big)
    dt = time.perf_counter() - t0
    print(f"1 MiB ordinary log: {1000 * dt:.1f} ms ({len(big) / dt / 1e6:.1f} MB/s)")


def main() -> None:
    corpus = rows("injection_attacks.jsonl") + rows("injection_benign.jsonl")
    held = rows("injection_heldout.jsonl")
    report("corpus", corpus)
    report("held-out", held)
    throughput(corpus + held)


if __name__ == "__main__":
    main()
