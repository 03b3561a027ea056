"""Where lockgate keeps its config and its data.

Apart from `app.core.config` (which reads and writes the config file) because one-shot commands
(`lockgate sandbox run`) need the directories only, to hide them from the sandbox, and start
faster without the config's records and TOML. On Linux the XDG base-directory rule is applied
here (an absolute `$XDG_CONFIG_HOME` / `$XDG_DATA_HOME`, else `~/.config` / `~/.local/share`; a
relative value is ignored, as the spec says), which is what platformdirs answers there (a test
holds the two together) without its import (~5 ms with tempfile and shutil); elsewhere
platformdirs decides.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "lockgate"


def config_dir() -> Path:
    """`LOCKGATE_CONFIG_DIR` overrides, so tests never touch the developer's own config."""
    env = os.environ.get("LOCKGATE_CONFIG_DIR")
    if env:
        return Path(env)
    if sys.platform.startswith("linux"):
        return _xdg("XDG_CONFIG_HOME", ".config")
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    env = os.environ.get("LOCKGATE_DATA_DIR")
    if env:
        return Path(env)
    if sys.platform.startswith("linux"):
        return _xdg("XDG_DATA_HOME", os.path.join(".local", "share"))
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def _xdg(variable: str, under_home: str) -> Path:
    base = os.environ.get(variable, "")
    if os.path.isabs(base):
        return Path(base, APP_NAME)
    return Path(_home(), under_home, APP_NAME)


def _home() -> str:
    """$HOME when it is absolute, else the account's home (a relative HOME counts as unset)."""
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return home
    import pwd

    home = pwd.getpwuid(os.getuid()).pw_dir
    if not os.path.isabs(home):
        raise RuntimeError("cannot tell the home directory: set an absolute HOME or XDG variable")
    return home
