"""app.core.dirs answers what platformdirs answers on Linux, without importing it; the config
file is read without TOML until there is one."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import platformdirs
import pytest

from app.core import dirs

HOMES = ("/tmp/lg-home", "relative/home", "", None)
CONFIG = ("/tmp/lg-xdg-config", "relative-config", "", None)
DATA = ("/tmp/lg-xdg-data", "relative-data", "", None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rule is Linux's")
@pytest.mark.parametrize(("home", "config", "data"), list(itertools.product(HOMES, CONFIG, DATA)))
def test_linux_directories_match_platformdirs(
    monkeypatch: pytest.MonkeyPatch, home: str | None, config: str | None, data: str | None
) -> None:
    monkeypatch.delenv("LOCKGATE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("LOCKGATE_DATA_DIR", raising=False)
    for name, value in (("HOME", home), ("XDG_CONFIG_HOME", config), ("XDG_DATA_HOME", data)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert str(dirs.config_dir()) == platformdirs.user_config_dir("lockgate")
    assert str(dirs.data_dir()) == platformdirs.user_data_dir("lockgate")


def test_the_environment_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_CONFIG_DIR", "/tmp/lg-c")
    monkeypatch.setenv("LOCKGATE_DATA_DIR", "/tmp/lg-d")
    assert (str(dirs.config_dir()), str(dirs.data_dir())) == ("/tmp/lg-c", "/tmp/lg-d")


def test_a_config_file_that_is_not_utf8_is_named_not_a_crash(tmp_path: Path) -> None:
    from app.core.config import ConfigError, read_toml

    bad = tmp_path / "config.toml"
    bad.write_bytes(b'theme = "\xff"\n')
    with pytest.raises(ConfigError, match=r"config\.toml: not valid TOML: not UTF-8"):
        read_toml(bad)
    assert read_toml(tmp_path / "missing.toml") == {}
