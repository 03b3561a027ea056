"""The hash chain every audit log is built on: the canonical form of a record, its hash, the
first record's `prev`, and the name of the head file beside a log.

Its own module so that writing a log (`audit`) and checking one (`verify`) share the rules
without importing each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
"""The `prev` of a log's first record."""
HEAD_SUFFIX = ".head"
"""`<log>.head` remembers the last sequence number and hash, so a cut-off end is visible."""


def canonical(obj: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, ASCII only: one spelling per record, so one hash."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the record's canonical form without its own `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("ascii")).hexdigest()
