"""Opening a log to append reads its end only, and still refuses a last record or head it cannot
trust; the rest of the chain is `lockgate log verify`'s to check."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.core import audit as audit_mod
from app.core.audit import TAIL_CHUNK, AuditError, AuditLog
from app.core.chain import HEAD_SUFFIX
from app.core.verify import verify_log


def make_log(path: Path, n: int, text: str = "x" * 100) -> list[bytes]:
    log = AuditLog(path, session_id="session-test", redact_env=False)
    for i in range(n):
        log.write("note", {"i": i, "text": text}, sync=False)
    log.close(clean=False)
    return path.read_bytes().splitlines(keepends=True)


@pytest.fixture
def bytes_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Bytes each open reads from the log; any other way of reading a whole file fails the test."""
    counts: list[int] = []
    real_pread = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        data = real_pread(fd, n, offset)
        counts.append(len(data))
        return data

    def whole_file(*_: object, **__: object) -> None:
        raise AssertionError("opening a log must not read (or verify) the whole file")

    monkeypatch.setattr(audit_mod.os, "pread", pread)
    monkeypatch.setattr(audit_mod, "read_records", whole_file, raising=False)
    monkeypatch.setattr("app.core.verify.verify_log", whole_file)
    yield counts


def test_open_reads_the_same_tail_however_long_the_log(
    tmp_path: Path, bytes_read: list[int]
) -> None:
    short, long = tmp_path / "short.jsonl", tmp_path / "long.jsonl"
    make_log(short, 10)
    make_log(long, 3000)
    assert long.stat().st_size > 8 * TAIL_CHUNK

    AuditLog(short, redact_env=False).close(clean=False)
    assert sum(bytes_read) == short.stat().st_size  # small: read whole, in one chunk
    bytes_read.clear()

    log = AuditLog(long, redact_env=False)
    assert sum(bytes_read) == TAIL_CHUNK  # 30x the records, one chunk all the same
    assert log.records == 3000
    log.write("note", {"more": True})
    log.close(clean=False)
    assert verify_log(long).ok


def test_a_last_record_longer_than_a_chunk_is_read_back_whole(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    make_log(p, 3)
    make_log(p, 2, text="y" * (3 * TAIL_CHUNK))  # reopened: records 4 and 5, each 3 chunks long
    log = AuditLog(p, redact_env=False)
    assert log.records == 5
    log.write("note", {"after": True})
    log.close(clean=False)
    r = verify_log(p)
    assert r.ok and r.records == 6


def test_a_torn_fragment_longer_than_a_chunk_is_cut(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    make_log(p, 3)
    with p.open("ab") as fh:
        fh.write(b'{"seq":4,"data":"' + b"z" * (2 * TAIL_CHUNK))
    log = AuditLog(p, redact_env=False)
    assert log.records == 4
    log.close(clean=False)
    r = verify_log(p)
    assert r.ok and r.kinds["torn-tail-discarded"] == 1


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda ls: [*ls[:-1], ls[-1].replace(b'"i":4', b'"i":9')], "does not match its hash"),
        (lambda ls: [*ls[:-1], ls[-1].replace(b'"kind"', b' "kind"')], "form it was written"),
        (lambda ls: [*ls, b"not json\n"], "not valid JSON"),
        (lambda ls: [*ls, b"\n"], "not valid JSON"),
        (lambda ls: [*ls, b"[1, 2]\n"], "not a JSON object"),
        (lambda ls: ls[:-1], "log was cut"),
        (lambda ls: [], "log was cut"),
    ],
    ids=["edited", "respelled", "garbage", "blank", "not-object", "cut", "emptied"],
)
def test_an_untrustworthy_end_is_refused_and_left_as_it_was(
    tmp_path: Path, damage: Callable[[list[bytes]], list[bytes]], why: str
) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p, 5)
    p.write_bytes(b"".join(damage(lines)))
    before = p.read_bytes()
    with pytest.raises(AuditError, match="does not verify") as err:
        AuditLog(p, redact_env=False)
    assert why in str(err.value)
    assert p.read_bytes() == before  # nothing cut, nothing appended
    assert not verify_log(p).ok


def test_a_head_that_vouches_for_another_record_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    make_log(p, 5)
    head = p.with_name(p.name + HEAD_SUFFIX)
    for seq in (5, 4):  # the last record, and the one before (a head one write behind)
        head.write_text(json.dumps({"seq": seq, "hash": "f" * 64}))
        with pytest.raises(AuditError, match="head"):
            AuditLog(p, redact_env=False)
    head.write_text("garbage")
    with pytest.raises(AuditError, match="head file is unreadable"):
        AuditLog(p, redact_env=False)


def test_a_head_one_write_behind_is_a_crash_not_tampering(tmp_path: Path) -> None:
    """The head is written after the record: a kill between the two leaves it one behind."""
    p = tmp_path / "a.jsonl"
    lines = make_log(p, 5)
    prev = json.loads(lines[3])
    p.with_name(p.name + HEAD_SUFFIX).write_text(json.dumps({"seq": 4, "hash": prev["hash"]}))
    log = AuditLog(p, redact_env=False)
    assert log.records == 5
    log.close(clean=False)
    assert verify_log(p).ok


def test_an_edit_in_the_middle_is_left_to_verify_and_stays_evident(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p, 8)
    lines[2] = lines[2].replace(b'"i":2', b'"i":7')
    p.write_bytes(b"".join(lines))
    before = verify_log(p)
    assert before.first is not None and before.first.line == 3

    log = AuditLog(p, redact_env=False)  # open checks the end only
    log.write("note", {"after": True})
    log.close(clean=False)

    after = verify_log(p)
    assert after.first == before.first  # appending buried nothing
    assert after.records == 9
