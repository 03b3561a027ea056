"""Shared fixtures. Every test gets its own config and data dirs, so the developer's own
config (keys, rules, theme) never leaks into a test and a test never writes to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    base = tmp_path_factory.mktemp("lockgate-home")
    monkeypatch.setenv("LOCKGATE_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("LOCKGATE_DATA_DIR", str(base / "data"))
    # lockgate itself never reaches a real registry from the tests (the deps tests use a fake).
    monkeypatch.setenv("LOCKGATE_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    yield


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws
