"""The audit chain: every kind of tampering is reported with the line it happened at."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.audit import GENESIS, AuditLog, canonical, record_hash
from app.core.verify import verify_log


def make_log(path: Path, n: int = 8) -> list[bytes]:
    log = AuditLog(path, session_id="session-test", redact_env=False)
    for i in range(n):
        log.write("note", {"i": i, "text": f"record {i}"})
    log.close(clean=False)
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def first(path: Path) -> tuple[int, str]:
    r = verify_log(path)
    assert not r.ok
    assert r.first is not None
    return r.first.line, r.first.message


def forge(seq: int, prev: str, text: str = "forged") -> bytes:
    rec = {"seq": seq, "ts": 1.0, "session": "s", "kind": "note", "data": {"t": text}, "prev": prev}
    rec["hash"] = record_hash(rec)
    return (canonical(rec) + "\n").encode()


def test_intact_log_verifies(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    make_log(p)
    r = verify_log(p)
    assert r.ok and r.records == 8 and r.head_checked
    assert r.kinds == {"note": 8}


def test_edited_value_is_reported_at_its_line(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    lines[3] = lines[3].replace(b"record 3", b"record X")
    rewrite(p, lines)
    line, msg = first(p)
    assert line == 4 and "edited" in msg


def test_edit_with_recomputed_hash_is_caught_by_the_next_record(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    rec = json.loads(lines[3])
    rec["data"]["text"] = "innocent"
    rec["hash"] = record_hash(rec)
    lines[3] = (canonical(rec) + "\n").encode()
    rewrite(p, lines)
    line, msg = first(p)
    assert line == 4 and "altered" in msg


def test_reformatted_line_is_an_edit(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    lines[2] = lines[2].replace(b'"kind":', b'"kind": ')
    rewrite(p, lines)
    line, msg = first(p)
    assert line == 3 and "edited" in msg


@pytest.mark.parametrize("idx", [0, 3, 6])
def test_removed_record_is_reported(tmp_path: Path, idx: int) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    del lines[idx]
    rewrite(p, lines)
    line, msg = first(p)
    assert line == idx + 1 and "removed" in msg and f"#{idx + 1}" in msg


def test_records_cut_from_the_end_are_reported_through_the_head(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    rewrite(p, lines[:5])
    line, msg = first(p)
    assert line == 6 and "#6..#8" in msg and "cut" in msg


def test_inserted_forged_record_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    prev = json.loads(lines[2])["hash"]
    lines.insert(3, forge(4, prev))
    rewrite(p, lines)
    line, msg = first(p)
    assert line == 4 and "inserted" in msg and "line 5" in msg


def test_inserted_garbage_line_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    lines.insert(2, b'{"hello": 1}\n')
    rewrite(p, lines)
    line, msg = first(p)
    assert line == 3 and "not a valid record" in msg


def test_swapped_records_are_reported_as_reordered(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    lines[2], lines[3] = lines[3], lines[2]
    rewrite(p, lines)
    line, msg = first(p)
    assert line == 3 and "reordered" in msg


def test_record_moved_to_the_end_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = make_log(p)
    lines.append(lines.pop(1))
    rewrite(p, lines)
    line, msg = first(p)
    assert line == 2 and "reordered" in msg


def test_rewritten_chain_is_caught_by_the_head(tmp_path: Path) -> None:
    """A forger who renumbers and rehashes everything after an insertion still trips the head."""
    p = tmp_path / "a.jsonl"
    lines = make_log(p, 4)
    recs = [json.loads(x) for x in lines]
    forged = [*recs[:2], json.loads(forge(3, recs[1]["hash"])), *recs[2:]]
    prev = GENESIS
    out = []
    for seq, rec in enumerate(forged, start=1):
        rec["seq"], rec["prev"] = seq, prev
        rec["hash"] = record_hash(rec)
        prev = rec["hash"]
        out.append((canonical(rec) + "\n").encode())
    rewrite(p, out)
    line, msg = first(p)
    assert line == 4 and "head" in msg


def test_torn_last_line_is_reported_and_cut_on_reopen(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    make_log(p, 3)
    with p.open("ab") as fh:
        fh.write(b'{"seq":4,"half')
    line, msg = first(p)
    assert line == 4 and "incomplete" in msg
    log = AuditLog(p, redact_env=False)
    assert log.records == 4  # the torn fragment is replaced by a record saying so
    log.write("note", {"after": True})
    log.close(clean=False)
    r = verify_log(p)
    assert r.ok and r.kinds["torn-tail-discarded"] == 1


def test_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    make_log(p, 3)
    log = AuditLog(p, session_id="session-test", redact_env=False)
    log.write("note", {"more": 1})
    log.close()
    r = verify_log(p)
    assert r.ok and r.records == 5


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    log = AuditLog(p, redact_env=False)

    def writer(k: int) -> None:
        for i in range(25):
            log.write("network", {"k": k, "i": i})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    r = verify_log(p)
    assert r.ok and r.records == 101


def test_secrets_never_reach_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-proj-" + "A1b2C3d4" * 4
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-very-secret-value")
    p = tmp_path / "a.jsonl"
    log = AuditLog(p, secrets=["hunter2-password"])
    rec = log.write(
        "proposal",
        {
            "action": {
                "command": f"curl -H 'Authorization: Bearer {key}' x; echo tok-very-secret-value "
                "hunter2-password ghp_" + "x" * 36
            }
        },
    )
    log.record_network(host="api.example.com", port=443, allowed=True, error=f"auth {key}")
    log.close()
    text = p.read_text()
    for secret in (key, "tok-very-secret-value", "hunter2-password", "ghp_" + "x" * 36):
        assert secret not in text
    assert rec["redacted"] is True and "[redacted]" in text
    assert verify_log(p).ok


def test_missing_or_empty_file(tmp_path: Path) -> None:
    assert verify_log(tmp_path / "nope.jsonl").first is not None
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert not verify_log(tmp_path / "empty.jsonl").ok


def test_log_file_is_private(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    make_log(p, 1)
    assert os.stat(p).st_mode & 0o077 == 0


TAMPER = ["edit", "rehash-edit", "delete", "insert", "swap", "garbage", "truncate", "dup"]


@settings(max_examples=80, deadline=None)
@given(op=st.sampled_from(TAMPER), where=st.integers(0, 9), n=st.integers(3, 10))
def test_any_tampering_is_detected(
    tmp_path_factory: pytest.TempPathFactory, op: str, where: int, n: int
) -> None:
    p = tmp_path_factory.mktemp("t") / "a.jsonl"
    lines = make_log(p, n)
    k = where % n
    if op == "edit":
        lines[k] = lines[k].replace(b"record", b"recorb")
    elif op == "rehash-edit":
        rec = json.loads(lines[k])
        rec["data"]["i"] = -1
        rec["hash"] = record_hash(rec)
        lines[k] = (canonical(rec) + "\n").encode()
        if k == n - 1:  # the last record has no successor; only the head vouches for it
            pass
    elif op == "delete":
        del lines[k]
    elif op == "insert":
        prev = json.loads(lines[k - 1])["hash"] if k else GENESIS
        lines.insert(k, forge(k + 1, prev))
    elif op == "swap":
        j = (k + 1) % n
        if j == k:
            return
        lines[k], lines[j] = lines[j], lines[k]
    elif op == "garbage":
        lines.insert(k, b"not json\n")
    elif op == "truncate":
        lines = lines[:k] if k else lines[:1]
        if len(lines) == n:
            return
    elif op == "dup":
        lines.insert(k, lines[k])
    rewrite(p, lines)
    r = verify_log(p)
    assert not r.ok, (op, k, n)
    assert r.first is not None and 1 <= r.first.line <= n + 1


def test_a_broken_log_is_never_appended_to(tmp_path: Path) -> None:
    from app.core.audit import AuditError

    p = tmp_path / "a.jsonl"
    lines = make_log(p, 5)
    rewrite(p, lines[:3])  # cut: the head still says 5
    with pytest.raises(AuditError, match="does not verify"):
        AuditLog(p, redact_env=False)
    assert not verify_log(p).ok  # the evidence is still there


def test_one_writer_per_log(tmp_path: Path) -> None:
    from app.core.audit import AuditError

    p = tmp_path / "a.jsonl"
    first = AuditLog(p, redact_env=False)
    first.write("note", {})
    with pytest.raises(AuditError, match="another lockgate session"):
        AuditLog(p, redact_env=False)
    first.close()
    AuditLog(p, redact_env=False).close()  # free again once the first writer is gone
