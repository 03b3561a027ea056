from __future__ import annotations

from pathlib import Path

import pytest
from acpkit import make_gitws


@pytest.fixture
def gitws(tmp_path: Path) -> Path:
    return make_gitws(tmp_path)
