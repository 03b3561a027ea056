"""Themes are data files; a broken one is reported once and the default theme is used."""

from __future__ import annotations

from pathlib import Path

from textual.color import Color

from app.core.config import load_user_config, update_user_config
from app.ui.themes import (
    DEFAULT_THEME,
    VARIABLES,
    builtin_theme_dir,
    choose_theme,
    load_theme_file,
    load_themes,
)


def test_shipped_themes_load_with_every_variable() -> None:
    found = load_themes([builtin_theme_dir()])
    assert found.errors == ()
    names = set(found.names())
    assert {"lockgate-dark", "lockgate-light", "lockgate-high-contrast"} <= names
    for theme in found.themes:
        for var in VARIABLES:
            Color.parse(theme.variables[var])


def test_high_contrast_risk_palette_is_okabe_ito() -> None:
    theme = load_theme_file(builtin_theme_dir() / "high-contrast.toml")
    okabe_ito = {"#56b4e9", "#f0e442", "#e69f00", "#d55e00", "#cc79a7", "#009e73", "#0072b2"}
    levels = ("safe", "low", "medium", "high", "critical")
    colours = [theme.variables[f"risk-{lv}"].lower() for lv in levels]
    assert set(colours) <= okabe_ito
    assert len(set(colours)) == len(levels)  # every level distinguishable


def _write(d: Path, name: str, text: str) -> None:
    (d / name).write_text(text)


GOOD = (builtin_theme_dir() / "dark.toml").read_text()


def test_broken_files_are_reported_one_line_each(tmp_path: Path) -> None:
    _write(tmp_path, "a-good.toml", GOOD.replace('"lockgate-dark"', '"mine"'))
    _write(tmp_path, "b-syntax.toml", "name = \n")
    _write(tmp_path, "c-missing.toml", GOOD.replace('risk-high = "#f08a4b"\n', ""))
    _write(tmp_path, "d-colour.toml", GOOD.replace('"#f08a4b"', '"not-a-colour"'))
    _write(tmp_path, "e-unknown.toml", "surprise = 1\n" + GOOD)
    found = load_themes([tmp_path])
    assert found.names() == ("mine",)
    assert len(found.errors) == 4
    joined = "\n".join(found.errors)
    assert "b-syntax.toml" in joined and "not valid TOML" in joined
    assert "lacks risk-high" in joined
    assert "'not-a-colour' is not a colour" in joined
    assert "unknown key 'surprise'" in joined
    assert all("\n" not in e for e in found.errors)


def test_user_theme_overrides_shipped_one(tmp_path: Path) -> None:
    _write(tmp_path, "dark.toml", GOOD.replace('risk-high = "#f08a4b"', 'risk-high = "#123456"'))
    found = load_themes([builtin_theme_dir(), tmp_path])
    dark = next(t for t in found.themes if t.name == "lockgate-dark")
    assert dark.variables["risk-high"] == "#123456"


def test_choose_theme() -> None:
    names = ["lockgate-dark", "lockgate-light"]
    assert choose_theme(names, "lockgate-light") == ("lockgate-light", None)
    assert choose_theme(names, None) == (DEFAULT_THEME, None)
    start, msg = choose_theme(names, "gone")
    assert start == DEFAULT_THEME and msg is not None and "gone" in msg


def test_remembered_theme_round_trips() -> None:
    from app.ui.themes import remember_theme, remembered_theme

    assert remembered_theme() is None
    update_user_config("policy", {"x": 1})
    remember_theme("lockgate-light")
    assert remembered_theme() == "lockgate-light"
    assert load_user_config().section("policy") == {"x": 1}  # other sections untouched
