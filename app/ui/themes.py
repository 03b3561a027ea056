"""Themes are data: one TOML file each in `themes/` (and the user's own `<config>/themes/`).

Every colour the console paints comes from a theme: Textual's base palette plus our own variables
for risk levels, diff lines and unsafe-character markers, which the `.tcss` files and the content
styles refer to as `$risk-high`, `$diff-added`, … A file that cannot be used is reported once and
skipped; the console then falls back to the default theme rather than to a half-coloured one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from app.core.config import ConfigError, config_dir, load_user_config, update_user_config

DEFAULT_THEME = "lockgate-dark"

BASE_COLOURS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
)
"""Textual's own palette; `primary` is required, the rest default from it."""

VARIABLES = (
    "risk-safe",
    "risk-low",
    "risk-medium",
    "risk-high",
    "risk-critical",
    "risk-span",
    "diff-added",
    "diff-removed",
    "diff-added-background",
    "diff-removed-background",
    "diff-hunk",
    "unsafe-marker",
    "unsafe-marker-background",
    "pane-border",
    "risk-badge-text",
    "untrusted",
    "injection-span",
)
"""Our variables: a theme must define every one of them, so no part of the screen is left to chance."""

_TOP_LEVEL = {"name", "dark", "colors", "variables"}


class ThemeError(Exception):
    """A theme file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ThemeSet:
    """What loading found: usable themes in load order, and one line per broken file."""

    themes: tuple[Theme, ...]
    errors: tuple[str, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.themes)


def builtin_theme_dir() -> Path:
    import themes as themes_package

    return Path(themes_package.__file__).resolve().parent


def user_theme_dir() -> Path:
    return config_dir() / "themes"


def _colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeError(f'{path.name}: {key} must be a colour string like "#1e2128"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{path.name}: {key} = {value!r} is not a colour") from None
    return value


def parse_theme(path: Path, data: Mapping[str, Any]) -> Theme:
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise ThemeError(f"{path.name}: unknown key {unknown[0]!r}")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{path.name}: name must be a non-empty string")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path.name}: dark must be true or false")
    colours = data.get("colors", {})
    if not isinstance(colours, dict):
        raise ThemeError(f"{path.name}: [colors] must be a table")
    unknown = sorted(set(colours) - set(BASE_COLOURS))
    if unknown:
        raise ThemeError(f"{path.name}: unknown colour {unknown[0]!r} in [colors]")
    if "primary" not in colours:
        raise ThemeError(f"{path.name}: [colors] needs primary")
    base = {key: _colour(path, f"colors.{key}", value) for key, value in colours.items()}
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError(f"{path.name}: [variables] must be a table")
    missing = [v for v in VARIABLES if v not in variables]
    if missing:
        raise ThemeError(f"{path.name}: [variables] lacks {', '.join(missing)}")
    extra = {
        key: _colour(path, f"variables.{key}", value)
        for key, value in variables.items()
        if key in VARIABLES
    }
    # Textual's own variables (e.g. "footer-key-foreground") may be overridden too, as text.
    for key, value in variables.items():
        if key not in VARIABLES:
            if not isinstance(value, str):
                raise ThemeError(f"{path.name}: variables.{key} must be a string")
            extra[key] = value
    return Theme(
        name=name.strip(),
        primary=base["primary"],
        secondary=base.get("secondary"),
        accent=base.get("accent"),
        warning=base.get("warning"),
        error=base.get("error"),
        success=base.get("success"),
        foreground=base.get("foreground"),
        background=base.get("background"),
        surface=base.get("surface"),
        panel=base.get("panel"),
        dark=dark,
        variables=extra,
    )


def load_theme_file(path: Path) -> Theme:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path.name}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ThemeError(f"{path.name}: cannot read: {exc.strerror}") from None
    return parse_theme(path, data)


def load_themes(directories: Iterable[Path] | None = None) -> ThemeSet:
    """Load every `*.toml` in order; a later file with the same theme name replaces an earlier one
    (so a user's `lockgate-dark.toml` overrides the shipped one)."""
    dirs = list(directories) if directories is not None else [builtin_theme_dir(), user_theme_dir()]
    found: dict[str, Theme] = {}
    errors: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                errors.append(f"{directory / path.name}: {str(exc).split(': ', 1)[1]}")
                continue
            found[theme.name] = theme
    return ThemeSet(themes=tuple(found.values()), errors=tuple(errors))


def fallback_variables(theme: Theme) -> dict[str, str]:
    """Our variables derived from a theme's own palette, for a theme that lacks them (Textual's
    built-in themes): risk and diff colours then follow the theme's success/warning/error."""
    system = theme.to_color_system().generate()
    return {
        "risk-safe": system["success"],
        "risk-low": system["success"],
        "risk-medium": system["warning"],
        "risk-high": system["error"],
        "risk-critical": system["error"],
        "risk-span": system["error-muted"],
        "diff-added": system["success"],
        "diff-removed": system["error"],
        "diff-added-background": system["success-muted"],
        "diff-removed-background": system["error-muted"],
        "diff-hunk": system["primary"],
        "unsafe-marker": system["text-warning"],
        "unsafe-marker-background": system["warning-muted"],
        "pane-border": system["foreground-muted"],
        "risk-badge-text": system["background"],
        "untrusted": system["text-warning"],
        "injection-span": system["warning-muted"],
    }


def remembered_theme() -> str | None:
    """The theme the user last chose, from `[theme] name` in the user config."""
    try:
        section = load_user_config().section("theme")
    except ConfigError:
        return None
    name = section.get("name")
    return name if isinstance(name, str) and name else None


def remember_theme(name: str) -> None:
    update_user_config("theme", {"name": name})


def choose_theme(available: Iterable[str], wanted: str | None) -> tuple[str, str | None]:
    """The theme to start with, and a message if the wanted one is not there."""
    names = list(available)
    if wanted and wanted in names:
        return wanted, None
    start = DEFAULT_THEME if DEFAULT_THEME in names else (names[0] if names else "textual-dark")
    if wanted:
        return start, f"theme {wanted!r} is not available; using {start!r}"
    return start, None
