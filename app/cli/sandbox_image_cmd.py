"""`lockgate sandbox image build`: the podman backend's default image, made from this host's
own root file system with no registry (see sandbox/podman/image.py and docs/podman.md), and
`lockgate sandbox check --backend podman`'s report."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


@click.group(name="image")
def image() -> None:
    """The podman backend's images (no registry needed)."""


@image.command("build")
@click.option(
    "--tag",
    default=None,
    metavar="REF",
    help="The image's name (default: localhost/lockgate-host:latest, what the podman backend "
    "runs without --image).",
)
@click.option(
    "--copy",
    is_flag=True,
    help="Copy /usr (and /bin /sbin /lib* where not merged) into the image: self-contained, "
    "minutes instead of seconds. Without it the image mounts the host's /usr read-only.",
)
@click.option(
    "--podman-connection",
    default=None,
    metavar="NAME",
    help="Build on a podman system connection (or unix:// service URL) instead of here.",
)
def build(tag: str | None, copy: bool, podman_connection: str | None) -> None:
    """Build the podman backend's image from this host's root file system: a skeleton root
    and a sanitised /etc (only world-readable entries; shadow, ssh host keys, sudoers and
    other secret stores left out), streamed into `podman import`."""
    from sandbox import SandboxError
    from sandbox.podman.cli import podman_for
    from sandbox.podman.image import build as build_image
    from sandbox.podman.support import DEFAULT_IMAGE

    ref = tag or DEFAULT_IMAGE
    try:
        built = build_image(podman_for(podman_connection), ref, copy=copy)
    except SandboxError as exc:
        click.echo(f"lockgate: {exc}", err=True)
        sys.exit(1)
    mounts = ", ".join(built.host_ro) or "none (self-contained)"
    click.echo(
        f"built {built.ref} ({built.mode} mode): {built.files} entries, "
        f"{built.bytes / 1e6:.1f} MB of files, {built.seconds:.1f} s; "
        f"host directories mounted read-only at run time: {mounts}"
    )


def check_podman(
    image_ref: str | None, rootfs: str | None, connection: str | None, as_json: bool
) -> int:
    """`sandbox check --backend podman`: podman's version, rootless or not, the cgroup
    controllers, the runtime and the image; exit 0 when a session can run, 1 (with the fix)
    when it cannot."""
    from sandbox.podman.cli import podman_for
    from sandbox.podman.support import probe_podman

    support = probe_podman(podman_for(connection), image_ref, rootfs)
    if as_json:
        data: dict[str, Any] = support.to_dict()
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        for layer in support.layers():
            mark = "ok " if layer.ok else "NO "
            tail = "" if layer.ok or not layer.degradable else "  (skippable with --allow-degraded)"
            click.echo(f"{mark} {layer.name:<16} {layer.detail}{tail}".rstrip())
        if support.podman_version:
            where = "remote" if support.remote else ("rootless" if support.rootless else "rootful")
            click.echo(f"podman: {support.podman_version}, {where}, runtime {support.runtime}")
            controllers = ", ".join(support.cgroup_controllers) or "none"
            click.echo(f"cgroups: {support.cgroup_version}; controllers: {controllers}")
        click.echo("sandbox: can run" if support.can_run() else support.refusal())
    return 0 if support.can_run() else 1
