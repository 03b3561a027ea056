"""The container backend: the same SandboxPolicy run in a podman container (see docs/podman.md).

Stdlib only and knows nothing of app/ (lint-imports). One long-lived container per Sandbox; the
commands are forked by a small init inside it (init.py) or, where that cannot run (no python in
the image, a remote podman), started with `podman exec`.
"""
