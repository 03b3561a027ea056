"""`--sandbox-backend`, `--image`, `--rootfs`, `--podman-connection`: the same four options on
`run`, `demo`, `acp`, `serve` and `sandbox run` (see docs/podman.md). Their values go to
app/execute/sandbox_backend.py, which completes the session's policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _keep(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        from app.execute.sandbox_backend import set_from_cli

        set_from_cli(key, str(value) if value else None)

    return callback


def sandbox_backend_options(f: F) -> F:
    options = [
        click.option(
            "--sandbox-backend",
            type=click.Choice(["linux", "podman"]),
            default=None,
            expose_value=False,
            callback=_keep("backend"),
            help="Where approved commands run: the OS sandbox (linux, the default) or a podman "
            'container with the same policy (podman; also [sandbox] backend = "podman").',
        ),
        click.option(
            "--image",
            default=None,
            metavar="REF",
            expose_value=False,
            callback=_keep("image"),
            help="podman backend: a local image to run in (default: the one "
            "`lockgate sandbox image build` makes).",
        ),
        click.option(
            "--rootfs",
            default=None,
            metavar="DIR",
            expose_value=False,
            callback=_keep("rootfs"),
            help="podman backend: run from an exploded root file system instead of an image.",
        ),
        click.option(
            "--podman-connection",
            default=None,
            metavar="NAME",
            expose_value=False,
            callback=_keep("podman_connection"),
            help="podman backend: a podman system connection (or unix:// service URL) to run "
            "the container on.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f
