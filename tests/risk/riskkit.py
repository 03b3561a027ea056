"""Shared helpers for the risk tests (the corpus reader and the judge's type)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from app.core.model import Assessment, Decision

DATA = Path(__file__).parent / "data"

Judge = Callable[[str], tuple[Assessment, Decision]]


def corpus(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
