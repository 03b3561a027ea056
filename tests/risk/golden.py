"""The golden verdicts: every labelled corpus and held-out item in tests/risk/data plus
bench/risk.py's 10,500 commands, each with the full verdict (score, level, decision, categories,
reasons, spans), judged with the built-in policy in a fixed workspace and home so the file is
the same on every machine.

It proves a refactoring of the risk engine lost nothing: `test_risk_golden.py` recomputes every
verdict and compares. After a deliberate change of verdicts, regenerate and list the differences:

    .venv/bin/python tests/risk/golden.py --diff     # what changed, one line per item
    .venv/bin/python tests/risk/golden.py --write    # record the new verdicts
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "golden_verdicts.jsonl.gz"
HOME = "/home/golden"
WORKSPACE = "/home/golden/dev/project"  # need not exist: no git, no files to look at
FAKE_FS = ("/bin/bash", "/bin/cat", "/bin/rm", "/bin/sh", "/usr/bin/cat", "/usr/bin/curl")
SETS = (
    "commands.jsonl",
    "patches.jsonl",
    "extra_commands.jsonl",
    "extra_patches.jsonl",
    "heldout_commands.jsonl",
    "heldout_patches.jsonl",
    "agent_commands.jsonl",
    "evasion_commands.jsonl",
)


def bench_commands() -> list[str]:
    spec = importlib.util.spec_from_file_location("_bench_risk", ROOT / "bench" / "risk.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cmds: list[str] = mod.commands(10_500)
    return cmds


def items() -> Iterator[tuple[str, str, str]]:
    """(set, kind, text) for every item, in a fixed order; duplicates kept per set."""
    for name in SETS:
        path = DATA / name
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    kind = "command" if "command" in obj else "patch"
                    yield name, kind, obj[kind]
    for text in bench_commands():
        yield "bench", "command", text


def verdicts() -> Iterator[dict[str, Any]]:
    """Every item's verdict; HOME is pinned for the duration."""
    import fnmatch

    from app.core.model import CommandAction, PatchAction
    from app.core.ports import SessionContext
    from app.risk import expand
    from app.risk.engine import RiskEngine
    from app.risk.policy import load_policy

    old = os.environ.get("HOME")
    os.environ["HOME"] = HOME
    # Program-path globs resolve against a fixed file system, not the checking machine's.
    expand.set_path_finder(lambda pattern: fnmatch.filter(FAKE_FS, pattern))
    try:
        engine = RiskEngine(warm=False, cache_size=64)
        ws = Path(WORKSPACE)
        policy = load_policy(ws, engine=engine, check=False)
        ctx = SessionContext(workspace=ws)
        for name, kind, text in items():
            action = CommandAction(text, "g") if kind == "command" else PatchAction(text, "g")
            a = engine.assess(action, ctx)
            d = policy.decide(action, a)
            yield {
                "set": name,
                kind: text,
                "score": a.score,
                "level": a.level.value,
                "decision": d.kind.value,
                "categories": [c.value for c in a.categories],
                "reasons": list(a.reasons),
                "spans": [[s, e] for s, e in a.spans],
            }
    finally:
        expand.set_path_finder(None)
        if old is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = old


def key(v: dict[str, Any]) -> tuple[str, str]:
    return v["set"], v.get("command") or v.get("patch") or ""


def load() -> list[dict[str, Any]]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def write(records: list[dict[str, Any]]) -> None:
    # mtime=0: the same verdicts give the same bytes.
    with (
        open(GOLDEN, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
    ):
        for r in records:
            gz.write((json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n").encode())


def differences(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """One line per item whose verdict differs (or that is new / gone)."""
    before = {key(r): r for r in old}
    after = {key(r): r for r in new}
    out: list[str] = []
    for k, r in after.items():
        o = before.get(k)
        text = k[1][:90].replace("\n", "⏎")
        if o is None:
            out.append(f"new  [{k[0]}] {r['level']}/{r['decision']} {r['score']}: {text!r}")
        elif o != r:
            what = [
                f
                for f in ("score", "level", "decision", "categories", "reasons", "spans")
                if o[f] != r[f]
            ]
            out.append(
                f"diff [{k[0]}] {o['level']}/{o['decision']} {o['score']} -> "
                f"{r['level']}/{r['decision']} {r['score']} ({', '.join(what)}): {text!r}"
            )
    for k in before.keys() - after.keys():
        out.append(f"gone [{k[0]}] {k[1][:90]!r}")
    return out


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    new = list(verdicts())
    if "--write" in argv:
        if GOLDEN.exists():
            for line in differences(load(), new):
                print(line)
        write(new)
        print(f"wrote {len(new)} verdicts to {GOLDEN.relative_to(ROOT)}")
        return 0
    diff = differences(load(), new)
    for line in diff:
        print(line)
    print(f"{len(diff)} of {len(new)} verdicts differ")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
