"""The audit log: one session, one append-only JSONL file, every record chained to the one before.

Each line is a canonical JSON object (sorted keys, no spaces, ASCII) with `seq` (1, 2, …),
`prev` (the previous record's `hash`; zeros for the first) and `hash` (SHA-256 of the record's
canonical form without `hash`). Changing a byte, dropping, inserting or swapping a line is thus
visible to `app.core.verify`. A small `<log>.head` file beside the log remembers the last
sequence number and hash, so cutting records off the end is visible too.

Every record is written with one `write(2)` on an O_APPEND descriptor before `write()` returns
(so a SIGKILL cannot lose it), and records that precede execution are fsynced too: the pipeline
records a verdict and an execution start, durably, *before* it runs the action, so after a
crash the log says at least as much as really happened.

Beside the log, `<log>.kept` holds what the log must not but a resumed session needs: the agent
link's conversation checkpoints and each command's kept output (head and tail). Its entries are
vouched for by the chain — a checkpoint's hash is in the log's `agent-state` record, an output's
hash is the `*_kept_sha256` of its `execution-end` record — so recovery takes back only entries
the log confirms.

Opening an existing log to append reads only its end, so it costs the same for the tenth record
as for the ten-thousandth (a hook opens its session's log on every tool call). At open: the last
complete line must be an intact record (valid JSON in the shape and canonical form records are
written in, its own `hash` matching its content), and the head must agree with it: a head ahead
of the log means the end was cut; one naming the last record, or the one before (the head is
written after the record), must carry its hash; one further behind is left to `verify`. Otherwise
the log is refused, never appended to. A torn fragment after the last complete line
(killed mid-write) is cut and a `torn-tail-discarded` record says so. What open does not check —
the records before the last, and whether they chain — is checked by `lockgate log verify` and by
resuming a session (`app.core.resume.recover`), which read the whole log. Appending to a log edited
in the middle hides nothing: the new records chain onto the last one, and the edit stays where
`verify` finds it.

The chain makes tampering evident to anyone who cannot rewrite the whole file; it is not a
signature (a local attacker who can write the file can also recompute every hash).

Secrets never reach the file: values of secret-looking environment variables, the keys the
session was given, and common key shapes are replaced by `[redacted]` before writing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import fcntl
import hashlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

from app.core.chain import GENESIS, HEAD_SUFFIX, canonical, record_hash
from app.core.config import data_dir
from app.core.model import new_id

__all__ = [
    "GENESIS",
    "HEAD_SUFFIX",
    "AuditError",
    "AuditLog",
    "Redactor",
    "audit_dir",
    "canonical",
    "hash_workspace_files",
    "list_logs",
    "read_kept",
    "read_records",
    "record_hash",
    "sha256_file",
    "to_jsonable",
]

REDACTED = "[redacted]"
KEPT_SUFFIX = ".kept"
HASH_LIMIT = 64 << 20  # larger files are not hashed on the event loop (their size is noted)
HEAD_SIZE = 128  # fixed, so the head is rewritten in place with one pwrite
TAIL_CHUNK = 1 << 16  # opening reads the log's end in chunks this large (more for a long record)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_SECRET_SHAPES = re.compile(
    r"(sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}"  # OpenAI / Anthropic style keys
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|(?<=Bearer )[A-Za-z0-9._~+/\-]{16,}=*)"
)


class AuditError(Exception):
    """The log cannot be opened or written; the message names the file."""


def audit_dir() -> Path:
    return data_dir() / "audit"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_workspace_files(workspace: Path, paths: Iterable[str]) -> dict[str, str | None]:
    """SHA-256 of each named file inside the workspace (None: absent; 'outside': leads out).

    Symlinks that resolve outside the workspace are not followed, so a patch cannot make the
    console read (and log a digest of) a file it has no business with.
    """
    root = workspace.resolve()
    out: dict[str, str | None] = {}
    for rel in paths:
        if rel in out:
            continue
        candidate = (root / rel).resolve()
        if candidate == root or not candidate.is_relative_to(root):
            out[rel] = "outside"
            continue
        try:
            if not candidate.is_file():
                out[rel] = None
            elif (size := candidate.stat().st_size) > HASH_LIMIT:
                out[rel] = f"not hashed: {size} bytes"
            else:
                out[rel] = sha256_file(candidate)
        except OSError as exc:
            out[rel] = f"unreadable: {exc.strerror}"
    return out


# --------------------------------------------------------------------------- encoding


def to_jsonable(value: Any) -> Any:
    """Records, enums, paths and tuples to JSON; output bytes never go in (only their digests)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if name == "Result" and f.name in ("stdout", "stderr"):
                continue
            if name == "PatchReview" and f.name == "token":
                continue
            if name == "PatchReview" and f.name == "unified_diff":
                out["unified_diff_sha256"] = hashlib.sha256(v.encode()).hexdigest()
                continue
            out[f.name] = to_jsonable(v)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):  # NaN and ±inf have no JSON form
        return None
    return value


class Redactor:
    """Replaces known secret values and key-shaped strings in every string of a record."""

    def __init__(self, secrets: Iterable[str] = (), *, from_env: bool = True) -> None:
        values = {s for s in secrets if s and len(s) >= 6}
        if from_env:
            for name, value in os.environ.items():
                if _SECRET_ENV.search(name) and len(value) >= 8:
                    values.add(value)
        self._values = sorted(values, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 6 and secret not in self._values:
            self._values.append(secret)
            self._values.sort(key=len, reverse=True)

    def text(self, s: str) -> str:
        for v in self._values:
            if v in s:
                s = s.replace(v, REDACTED)
        return _SECRET_SHAPES.sub(REDACTED, s)

    def value(self, v: Any) -> Any:
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        return v


# --------------------------------------------------------------------------- the log


class AuditLog:
    """Append-only, hash-chained, fsynced. Thread-safe: the network proxy may record from its own
    thread while the pipeline records from the event loop."""

    def __init__(
        self,
        path: Path,
        *,
        session_id: str | None = None,
        workspace: Path | None = None,
        secrets: Iterable[str] = (),
        redact_env: bool = True,
    ) -> None:
        self.path = Path(path)
        self.session_id = session_id or new_id("session")
        self.workspace = workspace
        self._redactor = Redactor(secrets, from_env=redact_env)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._head_fd: int | None = None
        self._seq = 0
        self._last = GENESIS
        self._open()

    # ---------------------------------------------------------------- opening

    @classmethod
    def create(
        cls,
        workspace: Path,
        *,
        path: Path | None = None,
        secrets: Iterable[str] = (),
        session_id: str | None = None,
    ) -> AuditLog:
        """A new session log (in the data dir unless `path` is given) with its session-start."""
        sid = session_id or new_id("session")
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            path = audit_dir() / f"{stamp}-{sid}.jsonl"
        log = cls(path, session_id=sid, workspace=workspace, secrets=secrets)
        log.write(
            "session-start",
            {"workspace": str(workspace), "pid": os.getpid(), "resumed_from": None},
        )
        return log

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot open audit log: {exc.strerror}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AuditError(
                    f"{self.path}: another lockgate session is writing this log"
                ) from None
            self._fd = fd
            self._load_tail()
        except Exception:
            os.close(fd)
            self._fd = None
            raise

    def _load_tail(self) -> None:
        """Continue an existing chain from its last record, reading only the end of the file (a
        one-shot hook opens its session's log on every tool call). A torn last line (killed
        mid-write) is cut and noted; a last record that is not intact, or a head that disagrees
        with it, refuses the log. Earlier records are checked by `lockgate log verify` only."""
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        head = self._read_head()
        end, last_line, torn = _tail(self._fd, size, self.path)
        rec: dict[str, Any] | None = None
        if end:
            rec, why = _intact(last_line)
            if rec is None:
                self._refuse(f"its last record {why}")
        last_seq = rec["seq"] if rec is not None else 0
        if head is not None:
            hs, hh = head
            if hs > last_seq:
                span = f"#{last_seq + 1}" if hs == last_seq + 1 else f"#{last_seq + 1}..#{hs}"
                self._refuse(f"record {span} missing at the end: the log was cut")
            if rec is not None and hs == last_seq and hh != rec["hash"]:
                self._refuse(f"record #{hs} differs from the one the head file vouches for")
            if rec is not None and hs == last_seq - 1 and hh != rec["prev"]:
                self._refuse(f"record #{last_seq} does not follow the #{hs} the head vouches for")
        if torn:
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        if rec is not None:
            self._seq = rec["seq"]
            self._last = rec["hash"]
        if torn:
            self.write(
                "torn-tail-discarded",
                {"bytes": len(torn), "sha256": hashlib.sha256(torn).hexdigest()},
            )

    def _read_head(self) -> tuple[int, str] | None:
        """The head beside the log: (seq, hash) it vouches for, or None if there is none."""
        head = self.path.with_name(self.path.name + HEAD_SUFFIX)
        try:
            raw = head.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._refuse(f"{head.name}: head file is unreadable: {exc.strerror}")
        try:
            h = json.loads(raw)
            return int(h["seq"]), str(h["hash"])
        except (ValueError, KeyError, TypeError):
            self._refuse(f"{head.name}: head file is unreadable")

    def _refuse(self, why: str) -> NoReturn:
        # Appending would bury the evidence (and rewrite the head): refuse instead.
        raise AuditError(
            f"{self.path}: existing log does not verify ({why}); not appending "
            "(`lockgate log verify` says more)"
        )

    # ---------------------------------------------------------------- writing

    @property
    def records(self) -> int:
        return self._seq

    @property
    def last_hash(self) -> str:
        return self._last

    def add_secret(self, secret: str) -> None:
        self._redactor.add(secret)

    def write(self, kind: str, data: Mapping[str, Any], *, sync: bool = True) -> dict[str, Any]:
        """Append one record; returns it once the kernel has it (a SIGKILL cannot lose it) and,
        with `sync` (the default), once it is fsynced to the disk too.

        Each fsync costs milliseconds on an ordinary disk, so the pipeline syncs only the records
        that precede execution (verdicts, execution starts); an fsync also carries every
        record written before it."""
        body = to_jsonable(dict(data))
        clean = self._redactor.value(body)
        with self._lock:
            if self._fd is None:
                raise AuditError(f"{self.path}: audit log is closed")
            record: dict[str, Any] = {
                "seq": self._seq + 1,
                "ts": round(time.time(), 6),
                "session": self.session_id,
                "kind": kind,
                "data": clean,
                "prev": self._last,
            }
            if clean != body:
                record["redacted"] = True
            record["hash"] = record_hash(record)
            line = (canonical(record) + "\n").encode("ascii")
            try:
                _write_all(self._fd, line)
                if sync:
                    os.fsync(self._fd)
            except OSError as exc:
                raise AuditError(f"{self.path}: cannot write audit log: {exc.strerror}") from exc
            self._seq += 1
            self._last = record["hash"]
            self._write_head()
            return record

    def _write_head(self) -> None:
        """Overwrite the fixed-size head in place: one pwrite, so it is never half-written."""
        if self._head_fd is None:
            head = self.path.with_name(self.path.name + HEAD_SUFFIX)
            try:
                self._head_fd = os.open(head, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                return  # the head only guards against cutting the tail; the log is safe
        text = json.dumps({"seq": self._seq, "hash": self._last})
        data = text.ljust(HEAD_SIZE - 1).encode("ascii") + b"\n"
        with contextlib.suppress(OSError):
            os.pwrite(self._head_fd, data, 0)

    def record_network(
        self,
        *,
        host: str,
        port: int,
        method: str = "CONNECT",
        scheme: str = "https",
        allowed: bool,
        rule: str = "",
        action_id: str = "",
        parent_action_id: str = "",
        status: int | None = None,
        bytes_up: int | None = None,
        bytes_down: int | None = None,
        error: str = "",
    ) -> dict[str, Any]:
        """One request the network proxy let through or refused (called by the proxy)."""
        return self.write(
            "network",
            {
                "host": host,
                "port": port,
                "method": method,
                "scheme": scheme,
                "allowed": allowed,
                "rule": rule,
                "action_id": action_id,
                "parent_action_id": parent_action_id,
                "status": status,
                "bytes_up": bytes_up,
                "bytes_down": bytes_down,
                "error": error,
            },
        )

    def keep(self, kind: str, data: Mapping[str, Any], *, redact: bool = True) -> str:
        """Append one entry to `<log>.kept`; returns the SHA-256 of its line, for a log record to
        vouch for it. `redact=False` keeps bytes whose digest the log already holds exact."""
        body = to_jsonable(dict(data))
        if redact:
            body = self._redactor.value(body)
        line = canonical({"kind": kind, "data": body}) + "\n"
        raw = line.encode("ascii")
        path = self.path.with_name(self.path.name + KEPT_SUFFIX)
        with self._lock:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
                try:
                    _write_all(fd, raw)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise AuditError(f"{path}: cannot write: {exc.strerror}") from exc
        return hashlib.sha256(raw).hexdigest()

    def close(self, *, clean: bool = True) -> None:
        with self._lock:
            if self._fd is None:
                return
        if clean:
            with contextlib.suppress(AuditError):
                self.write("session-end", {"records": self._seq + 1})
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._head_fd is not None:
                os.close(self._head_fd)
                self._head_fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tail(fd: int, size: int, path: Path) -> tuple[int, bytes, bytes]:
    """(where the log's complete lines end, its last complete line, the torn fragment after
    them), read backwards from the end a chunk at a time: the cost is the last record's, not
    the log's."""
    buf = b""
    pos = size
    while pos > 0:
        step = min(pos, max(TAIL_CHUNK, len(buf)))  # doubling: a long record takes few reads
        pos -= step
        chunk = os.pread(fd, step, pos)
        if len(chunk) != step:
            raise AuditError(f"{path}: audit log changed while it was being opened")
        buf = chunk + buf
        end = buf.rfind(b"\n")
        if end < 0:
            continue
        start = buf.rfind(b"\n", 0, end) + 1
        if start > 0 or pos == 0:
            return pos + end + 1, buf[start:end], buf[end + 1 :]
    return 0, b"", buf


def _intact(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The record on one line if it is whole and unedited as `verify` sees it; else why not."""
    try:
        rec = json.loads(raw)
    except ValueError:
        return None, "is not valid JSON"
    if not isinstance(rec, dict):
        return None, "is not a JSON object"
    seq, prev, own = rec.get("seq"), rec.get("prev"), rec.get("hash")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None, "has no valid 'seq'"
    if not isinstance(prev, str) or not isinstance(own, str):
        return None, "has no 'prev'/'hash'"
    if not (_HEX64.match(prev) and _HEX64.match(own)) or not isinstance(rec.get("kind"), str):
        return None, "is not in the shape records are written in"
    if record_hash(rec) != own:
        return None, f"(#{seq}) was edited: its content does not match its hash"
    if canonical(rec).encode("ascii", "replace") != raw:
        return None, f"(#{seq}) was edited: it is not in the form it was written"
    return rec, ""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each readable line; skips what does not parse (verify reports it)."""
    with Path(path).open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rec, dict):
                yield lineno, rec


def read_kept(log_path: Path) -> dict[str, dict[str, Any]]:
    """The entries beside a log (see `AuditLog.keep`) by the SHA-256 of their line; unreadable
    lines are left out (nothing vouches for them)."""
    path = Path(log_path).with_name(Path(log_path).name + KEPT_SUFFIX)
    out: dict[str, dict[str, Any]] = {}
    try:
        fh = path.open("rb")
    except OSError:
        return out
    with fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
                out[hashlib.sha256(raw).hexdigest()] = entry
    return out


def list_logs(directory: Path | None = None) -> list[Path]:
    """Session logs in the audit dir, oldest first."""
    d = directory or audit_dir()
    if not d.is_dir():
        return []
    return sorted((p for p in d.glob("*.jsonl") if p.is_file()), key=lambda p: p.stat().st_mtime)
