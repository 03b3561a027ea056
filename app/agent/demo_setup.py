"""The demo's workspace: a copy of the bundled `shopcart` project in a fresh git repository.

A real repository, so the demo's `.git/hooks` threat is real: the hook would land where git runs
it. git runs with the user's global and system config switched off, so nothing of theirs (hooks
templates, signing, aliases) takes part and nothing of the demo touches their config.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

GITIGNORE = "__pycache__/\n*.pyc\n"


class DemoSetupError(Exception):
    """The demo workspace could not be made; the message says why in one line."""


def bundled_workspace() -> Traversable:
    return resources.files("app.agent").joinpath("demo_workspace")


def _copy_tree(src: Traversable, dest: Path) -> int:
    count = 0
    for entry in src.iterdir():
        if entry.name in ("__pycache__",) or entry.name.endswith(".pyc"):
            continue
        target = dest / entry.name
        if entry.is_dir():
            target.mkdir()
            count += _copy_tree(entry, target)
        else:
            target.write_bytes(entry.read_bytes())
            count += 1
    return count


def _git(args: list[str], cwd: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "lockgate demo",
        "GIT_AUTHOR_EMAIL": "demo@lockgate.invalid",
        "GIT_COMMITTER_NAME": "lockgate demo",
        "GIT_COMMITTER_EMAIL": "demo@lockgate.invalid",
        "LC_ALL": "C",
    }
    try:
        subprocess.run(
            ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=30
        )
    except FileNotFoundError:
        raise DemoSetupError("git is not installed; the demo needs it for its workspace") from None
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DemoSetupError(
            f"git {args[0]} failed in {cwd}: {err[-1] if err else exc.returncode}"
        ) from None
    except subprocess.TimeoutExpired:
        raise DemoSetupError(f"git {args[0]} did not finish in {cwd}") from None


def prepare_demo_workspace(parent: Path | None = None) -> Path:
    """Copy the bundled project into a new temporary directory, git init, commit; return it."""
    src = bundled_workspace()
    if not src.is_dir():
        raise DemoSetupError("the bundled demo workspace is missing from this installation")
    root = Path(tempfile.mkdtemp(prefix="lockgate-demo-", dir=parent)).resolve()
    try:
        if _copy_tree(src, root) == 0:
            raise DemoSetupError("the bundled demo workspace is empty in this installation")
        (root / ".gitignore").write_text(GITIGNORE)
        _git(["init", "-q", "-b", "main"], root)
        _git(["add", "-A"], root)
        _git(["commit", "-q", "--no-gpg-sign", "-m", "shopcart: pricing and tests"], root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root
