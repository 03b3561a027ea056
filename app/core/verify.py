"""Checking an audit log: which line was edited, removed, inserted or moved, and how we know.

Three independent facts per record make the diagnosis precise: its own `hash` (catches an edit
that did not recompute it), its `prev` (catches an edit that did, and anything spliced in), and
its `seq` (tells removal from reordering from insertion). The `.head` file beside the log
catches records cut from the end.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.chain import GENESIS, HEAD_SUFFIX, canonical, record_hash

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line of the log; 0 for the file as a whole
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    records: int  # lines that parsed as records
    problems: tuple[Problem, ...] = ()
    head_checked: bool = False  # whether a head file vouched for the end of the log
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def _shape_error(rec: Any) -> str:
    if not isinstance(rec, dict):
        return "not a JSON object"
    for name, kind in (("seq", int), ("prev", str), ("hash", str), ("kind", str)):
        if name not in rec:
            return f"no {name!r} field"
        if not isinstance(rec[name], kind) or isinstance(rec[name], bool):
            return f"{name!r} has the wrong type"
    if not _HEX64.match(rec["prev"]) or not _HEX64.match(rec["hash"]):
        return "'prev'/'hash' are not SHA-256 hex digests"
    if rec["seq"] < 1:
        return "'seq' must start at 1"
    return ""


def verify_log(path: Path) -> VerifyReport:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return VerifyReport(path, 0, (Problem(0, f"cannot read {path}: {exc.strerror}"),))
    problems: list[Problem] = []
    lines = data.split(b"\n")
    torn = lines[-1] != b""
    if not torn:
        lines = lines[:-1]
    if not lines:
        return VerifyReport(path, 0, (Problem(1, "empty log: no records"),))

    parsed: list[tuple[int, dict[str, Any]]] = []
    for i, raw in enumerate(lines, start=1):
        if torn and i == len(lines):
            problems.append(Problem(i, "incomplete last record (the writer stopped mid-line)"))
            break
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            problems.append(Problem(i, f"not a valid record (bad JSON: {why})"))
            continue
        err = _shape_error(rec)
        if err:
            problems.append(Problem(i, f"not a valid record ({err})"))
            continue
        if record_hash(rec) != rec["hash"]:
            problems.append(
                Problem(i, f"record #{rec['seq']} was edited: its content does not match its hash")
            )
        elif canonical(rec).encode("ascii", "replace") != raw:
            problems.append(
                Problem(i, f"record #{rec['seq']} was edited: it is not in the form it was written")
            )
        parsed.append((i, rec))

    first_line_of: dict[int, int] = {}
    for i, rec in parsed:
        first_line_of.setdefault(rec["seq"], i)
    all_seqs = {rec["seq"]: i for i, rec in parsed}

    max_seq = 0
    hash_of: dict[int, str] = {0: GENESIS}
    line_of: dict[int, int] = {}
    for i, rec in parsed:
        seq: int = rec["seq"]
        expected = max_seq + 1
        if seq == expected:
            if rec["prev"] != hash_of[max_seq]:
                twin = [ln for ln, r in parsed if r["seq"] == max_seq and r["hash"] == rec["prev"]]
                if max_seq and twin:
                    problems.append(
                        Problem(
                            line_of[max_seq],
                            f"record #{max_seq} was inserted: line {i} follows line {twin[0]}, "
                            "not this one",
                        )
                    )
                elif max_seq:
                    problems.append(
                        Problem(
                            line_of[max_seq],
                            f"record #{max_seq} was altered or replaced: line {i} "
                            "no longer points to it (previous-record hash mismatch)",
                        )
                    )
                else:
                    problems.append(Problem(i, "the first record does not start the chain"))
        elif seq > expected:
            missing = range(expected, seq)
            later = [s for s in missing if s in all_seqs and all_seqs[s] > i]
            if later:
                problems.append(
                    Problem(
                        i,
                        f"record #{seq} comes before #{later[0]} "
                        f"(line {all_seqs[later[0]]}): records were reordered",
                    )
                )
            else:
                span = f"#{expected}" if seq - expected == 1 else f"#{expected}..#{seq - 1}"
                what = "record" if seq - expected == 1 else "records"
                problems.append(Problem(i, f"{what} {span} removed before this line"))
        elif seq in line_of:
            problems.append(
                Problem(
                    i,
                    f"record #{seq} appears twice (also line {line_of[seq]}): "
                    f"a record was inserted at line {line_of[seq]} or {i}",
                )
            )
        else:
            problems.append(Problem(i, f"record #{seq} after #{max_seq}: records were reordered"))
        if seq not in line_of:
            line_of[seq] = i
            hash_of[seq] = rec["hash"]
        max_seq = max(max_seq, seq)

    head_checked = False
    head = path.with_name(path.name + HEAD_SUFFIX)
    if head.exists():
        try:
            h = json.loads(head.read_text())
            hs, hh = int(h["seq"]), str(h["hash"])
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(Problem(0, f"{head.name}: head file is unreadable"))
        else:
            head_checked = True
            last_seq = max((rec["seq"] for _, rec in parsed), default=0)
            if last_seq < hs:
                n = len(lines) + (0 if torn else 1)
                span = f"#{last_seq + 1}" if hs == last_seq + 1 else f"#{last_seq + 1}..#{hs}"
                problems.append(
                    Problem(
                        n,
                        f"record {span} missing at the end: the log was cut "
                        f"(its head file says {hs} records)",
                    )
                )
            else:
                line = first_line_of.get(hs)
                match = [rec for _, rec in parsed if rec["seq"] == hs]
                if line is not None and match and match[0]["hash"] != hh:
                    problems.append(
                        Problem(
                            line, f"record #{hs} differs from the one the head file vouches for"
                        )
                    )

    kinds: dict[str, int] = {}
    for _, rec in parsed:
        kinds[rec["kind"]] = kinds.get(rec["kind"], 0) + 1
    problems.sort(key=lambda p: p.line)
    return VerifyReport(path, len(parsed), tuple(problems), head_checked, kinds)
