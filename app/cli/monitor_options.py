"""The model monitor's options (`--monitor MODEL`, `--monitor-base-url URL`), shared by the
session-starting commands (`run`, `demo`, `acp`) so each only adds a decorator. The key is never
an option: it comes from OPENAI_API_KEY (or `[monitor] api_key_env`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def monitor_options(f: F) -> F:
    """Adds `monitor_model` and `monitor_base_url` to the command's parameters."""
    f = click.option(
        "--monitor-base-url",
        "monitor_base_url",
        default=None,
        metavar="URL",
        help="The monitor's OpenAI-compatible server (default: [monitor] base_url, "
        "$OPENAI_BASE_URL or the OpenAI API).",
    )(f)
    f = click.option(
        "--monitor",
        "monitor_model",
        default=None,
        metavar="MODEL",
        help="Ask MODEL for a second opinion on asked actions, on actions while untrusted "
        "content is in play, and on outputs the scanner flagged; it can only raise an item "
        "(default: [monitor] model in the user config; off). Key: OPENAI_API_KEY or "
        "[monitor] api_key_env.",
    )(f)
    return f
