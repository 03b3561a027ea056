"""Red-team round two (issue #11), against the real `lockgate sandbox run` CLI, as root and as
uid 65534, host side checked. Each case names the root it proves:

1. reads are an allow-list (stores off any list, symlinked stores, root-only host files);
2. no single-file cover that a host rename detaches;
3. git and agent persistence the guard did not know;
4. the guard itself (deep trees, planted symlinks, chmod 555, escapes in its notes);
and the "also" list (memory cap, unix sockets in the workspace, hard links, long commands,
terminal escapes).

The CLI runners and test areas come from test_sandbox_redteam_cli.py.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import test_sandbox_redteam_cli as rt
from test_sandbox_redteam_cli import (
    PY,
    Area,
    Runner,
)

pytestmark = pytest.mark.sandbox
# the CLI runners (root, uid 65534) and the test areas of the first red-team suite
runner = rt.runner
area = rt.area


def _own(area: Area, *tops: Path) -> None:
    for top in tops:
        for path in [top, *top.rglob("*")]:
            os.chown(path, area.uid, area.uid, follow_symlinks=False)


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


# --------------------------------------------------------------------------- 1. reads


READS = r"""
import os, sys
for p in sys.argv[1:]:
    try:
        if os.path.isdir(p):
            print(p, "LISTED", sorted(os.listdir(p)))
        else:
            with open(p, "rb") as f:
                print(p, "READ", f.read()[:60])
    except OSError as e:
        print(p, "denied", e.errno)
"""

# credential stores the first deny-list did not name
OFF_LIST = {
    ".config/git/credentials": "https://u:R2-GITCRED@example.invalid",
    ".pgpass": "db:5432:*:u:R2-PGPASS",
    ".my.cnf": "[client]\npassword=R2-MYCNF",
    ".gemini/oauth_creds.json": '{"refresh_token": "R2-GEMINI"}',
    ".config/containers/auth.json": '{"auths": {"x": {"auth": "R2-PODMAN"}}}',
    ".gem/credentials": ":rubygems_api_key: R2-GEM",
    ".config/composer/auth.json": '{"github-oauth": "R2-COMPOSER"}',
    ".config/sops/age/keys.txt": "AGE-SECRET-KEY-R2-AGE",
    ".psql_history": "\\password R2-PSQLHIST",
    ".config/glab-cli/config.yml": "token: R2-GLAB",
}


def test_reads_are_an_allow_list(runner: Runner, area: Area) -> None:
    """Root 1: every store in the home stays unreadable, on or off a list, also when it is a
    symlink into a dotfiles tree (which used to make every run fail with EINVAL); toolchain
    dirs and --readable roots are readable; as root, root-only host files are not."""
    home = area.home
    for rel, text in OFF_LIST.items():
        _write(home / rel, text)
    shutil.rmtree(home / ".aws")
    (home / ".netrc").unlink()
    _write(home / "dotfiles" / "aws" / "credentials", "R2-STOWAWS")
    _write(home / "dotfiles" / "netrc", "machine x password R2-STOWNETRC")
    os.symlink("dotfiles/aws", home / ".aws")
    os.symlink("dotfiles/netrc", home / ".netrc")
    _write(home / ".cargo" / "bin" / "tool", "TOOLCHAIN-OK", 0o755)
    _write(home / "cache" / "data.txt", "READABLE-OK", 0o644)
    # a root-only tree and key outside the home (think /etc/wireguard, /etc/ssl/private)
    _write(area.vis / "wg" / "wg0.conf", "PrivateKey = R2-WIREGUARD")
    _write(area.vis / "tls.key", "R2-TLSKEY")
    _own(area, home)
    for p in (area.vis / "wg", area.vis / "wg" / "wg0.conf", area.vis / "tls.key"):
        os.chown(p, 0, 0)
    os.chmod(area.vis / "wg", 0o700)
    paths = [str(home / rel) for rel in (*OFF_LIST, ".aws/credentials", ".netrc")]
    paths += [
        str(home),
        str(home / "dotfiles" / "netrc"),
        "/proc/self/root" + str(home / ".pgpass"),
    ]
    paths += [str(area.vis / "wg" / "wg0.conf"), str(area.vis / "tls.key")]
    paths += [str(home / ".cargo" / "bin" / "tool"), str(home / "cache" / "data.txt")]
    r = runner.run(area, PY, "-c", READS, *paths, opts=("--readable", str(home / "cache")),
                   cwd=area.ws)  # fmt: skip
    assert r.returncode == 0, r.stderr  # a symlinked store no longer breaks the run
    out = r.stdout + r.stderr
    assert b"R2-" not in out, out.decode(errors="replace")
    assert b"TOOLCHAIN-OK" in r.stdout and b"READABLE-OK" in r.stdout, r.stdout
    listed = [line for line in r.stdout.decode().splitlines() if line.startswith(f"{home} ")]
    assert listed and "pgpass" not in listed[0] and "dotfiles" not in listed[0], listed


def test_check_lists_what_is_visible(runner: Runner, area: Area) -> None:
    r = runner.cli("sandbox", "check", env=area.env)
    text = r.stdout.decode()
    assert "reads: an allow-list" in text, text
    assert f"hidden (home): {area.home}" in text, text
    # issue #18.18: the mark says "ok" once, the detail only when it says more
    assert re.search(r"^ok +user namespace$", text, re.M), text
    assert not re.search(r"user namespace +ok", text), text
