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
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import test_sandbox_redteam_cli as rt
from test_sandbox_redteam_cli import (
    PY,
    Area,
    Runner,
    _git,
)

from sandbox import KernelSupport, Sandbox, SandboxPolicy

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


# --------------------------------------------------------------------------- 4. the guard

TURN_GUARD = r"""
import os, sys
# a protected name holding a tree 1,500 levels deep (used to end the guard in RecursionError)
os.mkdir(".codex")
fd = os.open(".codex", os.O_RDONLY)
for _ in range(1500):
    os.mkdir("d", dir_fd=fd)
    nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
os.close(os.open("deepest", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
os.close(fd)
# …and, after it, the names that used to survive
os.makedirs(".claude", exist_ok=True)
open(".claude/settings.json", "w").write('{"hooks": "pwn"}')
os.makedirs(".vscode/x", exist_ok=True)
open(".vscode/tasks.json", "w").write("pwn")
open(".lockgate.toml", "w").write("pwn")
open(".mcp.json", "w").write("pwn")
# a read-only directory the guard must still empty
os.makedirs(".cursor/rules/deep")
open(".cursor/rules/deep/x.mdc", "w").write("pwn")
os.chmod(".cursor/rules/deep", 0o555)
os.chmod(".cursor/rules", 0o555)
os.chmod(".cursor", 0o555)
# a name that would make the guard's own note lie
open(".lockgate\x1b[2K\r\x1b[32mall clean\x1b[0m", "w").write("pwn")
# a planted symlink where the submodules were: the guard must not follow it out
os.rename(".git/modules", ".git/modules-old")
os.symlink(sys.argv[1], ".git/modules")
print("planted")
"""


def test_the_guard_cannot_be_turned(runner: Runner, area: Area) -> None:
    """Root 4: a deep tree, a chmod 555 tree, escape sequences in a name and a symlink planted
    at .git/modules: every protected name goes, nothing outside the workspace is touched, and
    the notes print no raw escape."""
    ws = area.ws
    assert _git(ws, "init", "-q", uid=area.uid).returncode == 0
    sub = ws / ".git" / "modules" / "sub"
    sub.mkdir(parents=True)
    (sub / "HEAD").write_text("ref: refs/heads/main\n")  # a submodule's git dir, no config yet
    victim = area.vis / "victim-modules"
    _write(victim / "sub" / "config" / "keep.txt", "host data", 0o644)
    _own(area, ws, victim)
    r = runner.run(area, PY, "-c", TURN_GUARD, str(victim), cwd=ws, timeout=120)
    assert r.returncode == 0 and r.stdout == b"planted\n", r.stderr
    assert (victim / "sub" / "config" / "keep.txt").read_text() == "host data"
    left = sorted(os.listdir(ws))
    assert left == [".git"], left
    assert b"\x1b" not in r.stderr and b"\r" not in r.stderr, r.stderr
    assert b"FAILED" not in r.stderr, r.stderr
    assert b"removed .codex" in r.stderr and b"removed .cursor" in r.stderr, r.stderr
    assert "␛" in r.stderr.decode(), r.stderr  # the name is shown, its escapes spelled out


# --------------------------------------------------------------------------- 3. git and agents

PERSIST = r"""
m={marker}
echo "#!/bin/sh
touch $m" > .husky/_/pre-commit 2>/dev/null; chmod +x .husky/_/pre-commit
printf '[core]\n\tfsmonitor = "touch %s; echo"\n' "$m" >> shared.gitconfig
printf '[core]\n\tfsmonitor = "touch %s; echo"\n' "$m" >> vendored/.git/config
echo "touch $m" > vendored/.git/hooks/post-checkout
for r in newsub padded; do
  git init -q $r && git -C $r -c user.name=t -c user.email=t@t commit -q --allow-empty -m x
done
git -C newsub config core.fsmonitor "touch $m; echo"
echo "touch $m" > newsub/.git/hooks/pre-commit; chmod +x newsub/.git/hooks/pre-commit
python3 - "$m" <<'PY'
import sys
pad = ("# " + "x" * 98 + "\n") * 11000  # 1.1 MB of comments before the payload
with open("padded/.git/config", "a") as f:
    f.write(pad + '[core]\n\tfsmonitor = "touch %s; echo"\n' % sys.argv[1])
PY
git init -q --separate-git-dir="$PWD/planted" evilsub
git -C evilsub -c user.name=t -c user.email=t@t commit -q --allow-empty -m x
git -C evilsub config core.fsmonitor "touch $m; echo"
git add newsub padded evilsub 2>/dev/null
mkdir -p .qwen .opencode .kilocode .devcontainer
echo '{"mcpServers": {"x": {"command": "touch"}}}' > .qwen/settings.json
for f in opencode.json crush.json .devcontainer.json .crush.json; do echo '{}' > $f; done
echo 'touch m' > .envrc
git ls-files -s | grep -c ^160000
"""


def test_git_and_agent_persistence(runner: Runner, area: Area) -> None:
    """Root 3: an include.path and a core.hooksPath (husky) in the workspace, an existing nested
    repository and new ones linked by gitlinks (one with a config padded past 1 MiB), agent and
    editor configs the first list missed: after the run the reviewer's git runs nothing the
    command planted, and the configs are gone."""
    ws, uid = area.ws, area.uid
    assert _git(ws, "init", "-q", uid=uid).returncode == 0
    _write(ws / "shared.gitconfig", "[user]\n\tname = shared\n", 0o644)
    _write(ws / ".husky" / "_" / "pre-commit", "#!/bin/sh\nexit 0\n", 0o755)
    vendored = ws / "vendored"
    vendored.mkdir()
    _own(area, ws)
    for args in (("config", "include.path", "../shared.gitconfig"),
                 ("config", "core.hooksPath", ".husky/_"),
                 ("commit", "-q", "--allow-empty", "-m", "first")):  # fmt: skip
        assert _git(ws, *args, uid=uid).returncode == 0
    assert _git(vendored, "init", "-q", uid=uid).returncode == 0
    assert _git(vendored, "commit", "-q", "--allow-empty", "-m", "v", uid=uid).returncode == 0
    assert _git(ws, "add", "vendored", uid=uid).returncode == 0  # a gitlink
    _own(area, ws)
    before = {p: (ws / p).read_bytes() for p in ("shared.gitconfig", ".husky/_/pre-commit",
                                                "vendored/.git/config")}  # fmt: skip
    marker = area.outer / "PWNED"
    r = runner.run(area, "sh", "-c", PERSIST.replace("{marker}", str(marker)), cwd=ws,
                   extra_env={"PATH": "/usr/bin:/bin"}, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == b"4", (r.stdout, r.stderr)  # the gitlinks were made
    assert not (ws / "evilsub" / ".git").exists()  # it named a repository git would enter
    assert {p: (ws / p).read_bytes() for p in before} == before
    assert not (vendored / ".git" / "hooks" / "post-checkout").exists()
    for name in (".qwen", ".opencode", ".kilocode", ".devcontainer", "opencode.json",
                 "crush.json", ".devcontainer.json", ".crush.json", ".envrc"):  # fmt: skip
        assert not os.path.lexists(ws / name), name
    padded = (ws / "padded" / ".git" / "config").read_bytes()
    assert len(padded) < 4096 and b"fsmonitor" not in padded, len(padded)
    assert b"fsmonitor" not in (ws / "newsub" / ".git" / "config").read_bytes()
    assert not (ws / "newsub" / ".git" / "hooks" / "pre-commit").exists()
    # the reviewer's git, at the root and inside the nested repositories, runs nothing planted
    for where in (ws, ws / "newsub", ws / "padded", ws / "evilsub", vendored):
        _git(where, "status", uid=uid)
    assert _git(ws, "commit", "-q", "--allow-empty", "-m", "host", uid=uid).returncode == 0
    assert not marker.exists()


# --------------------------------------------------------------------------- 2. host renames

APPENDER = r"""
import time
open("started", "w").close()
won = 0
end = time.monotonic() + 4
while time.monotonic() < end:
    for name in (".git/config", ".mcp.json"):
        try:
            with open(name, "a") as f:
                f.write('\n[core]\n\tfsmonitor = "touch PWNED"\n')
            won += 1
        except OSError:
            pass
    time.sleep(0.002)
print("appended", won)
"""


def test_a_host_rename_never_hands_a_protected_file_over(runner: Runner, area: Area) -> None:
    """Root 2: git (and editors) replace files by rename; Linux then detaches a single-file
    cover in the sandbox. A host writer renames over .git/config and .mcp.json in a loop while
    a long command keeps trying to append to them: the run is stopped at the first rename and
    reports it, and nothing the command wrote stays in the host's files."""
    ws, uid = area.ws, area.uid
    assert _git(ws, "init", "-q", uid=uid).returncode == 0
    _write(ws / ".mcp.json", "{}\n", 0o644)
    _own(area, ws)
    config = (ws / ".git" / "config").read_text()
    done = threading.Event()

    def host_writer() -> None:
        deadline = time.monotonic() + 30
        while not (ws / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the command is running once it made this
        for i in range(5):
            for name, text in ((".git/config", config + f"# host {i}\n"), (".mcp.json", "{}\n")):
                tmp = ws / (name + ".lock")
                tmp.write_text(text)
                os.chown(tmp, uid, uid)
                os.rename(tmp, ws / name)
            time.sleep(0.05)
        done.set()

    writer = threading.Thread(target=host_writer)
    writer.start()
    r = runner.run(area, PY, "-c", APPENDER, cwd=ws, timeout=60)
    writer.join()
    assert done.is_set()
    for name in (".git/config", ".mcp.json"):
        text = (ws / name).read_text()
        assert "PWNED" not in text, (name, len(text), r.stdout[-300:], r.stderr[-300:])
    assert b"was replaced on the host during the run" in r.stderr, r.stderr
    assert b"appended" not in r.stdout, r.stdout  # stopped, not left to run its 4 s


# --------------------------------------------------------------------------- also: long commands


def test_arguments_past_a_socket_message(runner: Runner, area: Area) -> None:
    """A run message past ~212 KB used to fail with "Message too long"."""
    args = ["a" * 1000] * 400  # 400 KB of arguments
    r = runner.run(area, PY, "-c", "import sys; print(len(sys.argv) - 1, sum(map(len, sys.argv)))",
                   *args)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == b"400", r.stdout


# --------------------------------------------------------------------------- also: terminal


def test_output_to_a_terminal_is_escaped(runner: Runner, area: Area) -> None:
    """`sandbox run` wrote the command's raw bytes to the terminal (an OSC 52 clipboard write,
    a cursor move): on a terminal they are now shown as markers, unless --raw."""
    if shutil.which("script") is None:
        pytest.skip("needs script(1) for a real terminal")
    env = {**runner.env, **area.env}
    payload = r"printf 'a\033]52;c;cHduZWQ=\007b\033[2Kc\r\n'; printf 'e\033]0;t\007\n' >&2"
    outs = []
    for flag in ("", "--raw "):
        cmd = [*runner.prefix, "sandbox", "run", *flag.split(), "--workspace", str(area.ws),
               "--", "sh", "-c", payload]  # fmt: skip
        line = " ".join("'" + a.replace("'", "'\\''") + "'" for a in cmd)
        r = subprocess.run(["script", "-qec", line, "/dev/null"], stdin=subprocess.DEVNULL,
                           capture_output=True, env=env, timeout=60)  # fmt: skip
        outs.append(r.stdout)
    escaped, raw = outs
    assert b"\x1b]52" not in escaped and b"\x1b]0" not in escaped and b"\x1b[2K" not in escaped
    assert "␛]52;c;cHduZWQ=␇b␛[2Kc␍" in escaped.decode(), escaped
    assert b"\x1b]52;c;cHduZWQ=\x07b" in raw, raw


# --------------------------------------------------------------------------- also: unix sockets

CONNECT = r"""
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(p); print(p, "CONNECTED")
    except OSError as e:
        print(p, "refused", e.errno)
"""


class _Listener:
    """A service listening on a socket it bound by a relative path (so /proc/net/unix lists
    no absolute path for it), as one in a container with the workspace as a volume would."""

    def __init__(self, directory: Path, name: str) -> None:
        self.hits = 0
        self.sock = socket.socket(socket.AF_UNIX)
        old = os.getcwd()
        os.chdir(directory)
        try:
            self.sock.bind(name)
        finally:
            os.chdir(old)
        os.chmod(directory / name, 0o777)
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_sockets_in_the_workspace_are_covered(runner: Runner, area: Area) -> None:
    (area.ws / "run").mkdir()
    _own(area, area.ws)
    svc = _Listener(area.ws / "run", "svc.sock")
    try:
        path = str(area.ws / "run" / "svc.sock")
        r = runner.run(area, PY, "-c", CONNECT, path, cwd=area.ws)
    finally:
        svc.close()
    assert r.returncode == 0, r.stderr
    assert b"refused" in r.stdout and svc.hits == 0, (r.stdout, svc.hits)


def test_an_allowed_socket_stays_reachable(workspace: Path, support: KernelSupport) -> None:
    ok, other = _Listener(workspace, "ok.sock"), _Listener(workspace, "other.sock")
    try:
        policy = SandboxPolicy(workspace=workspace, allow_unix_sockets=(workspace / "ok.sock",))
        with Sandbox(policy, kernel=support, prewarm=False) as sb:
            r = sb.run(["python3", "-c", CONNECT, str(workspace / "ok.sock"),
                        str(workspace / "other.sock")])  # fmt: skip
    finally:
        ok.close()
        other.close()
    lines = r.stdout.decode().split("\n")
    assert lines[0].endswith("CONNECTED") and "refused" in lines[1], r.stdout
    assert (ok.hits, other.hits) == (1, 0)


# --------------------------------------------------------------------------- also: hard links


def test_hard_links_into_a_store_are_broken(runner: Runner, area: Area) -> None:
    """pnpm and uv link their stores' files into node_modules/.venv: a write through the
    workspace's name used to change the store's file (and every project linked to it). The
    links are broken when the sandbox is made: the workspace's name gets its own copy."""
    store = area.vis / "store" / "pkg.js"
    _write(store, "module.exports = 1\n", 0o644)
    target = area.ws / "node_modules" / "pkg" / "index.js"
    target.parent.mkdir(parents=True)
    os.link(store, target)
    _own(area, area.ws, store.parent)
    r = runner.run(area, "sh", "-c", "echo 'require(\"child_process\")' >> node_modules/pkg/index.js"
                   " && echo written", cwd=area.ws)  # fmt: skip
    assert r.returncode == 0 and r.stdout == b"written\n", r.stderr
    assert store.read_text() == "module.exports = 1\n"
    assert target.read_text().endswith('require("child_process")\n')
    assert os.stat(store).st_nlink == 1 and os.stat(target).st_mode & 0o777 == 0o644


def test_what_a_command_slips_into_a_replaced_git_config_is_dropped(
    runner: Runner, area: Area
) -> None:
    """The reviewer runs `git config` on the host while a command spins on .git/config: in the
    moment before the run is stopped the command can write the new file; whatever it added
    that can run programs is dropped after the run (the reviewer's own change stays)."""
    ws, uid = area.ws, area.uid
    assert _git(ws, "init", "-q", uid=uid).returncode == 0
    _own(area, ws)
    spin = (
        "import time\nopen('started', 'w').close()\nend = time.monotonic() + 4\n"
        "while time.monotonic() < end:\n"
        "    try:\n"
        "        with open('.git/config', 'a') as f:\n"
        "            f.write('[core]\\n\\tfsmonitor = \"touch PWNED; echo\"\\n')\n"
        "    except OSError:\n"
        "        pass\n"
    )

    def host_git() -> None:
        deadline = time.monotonic() + 30
        while not (ws / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        _git(ws, "config", "user.name", "reviewer", uid=uid)

    writer = threading.Thread(target=host_git)
    writer.start()
    r = runner.run(area, PY, "-c", spin, cwd=ws, timeout=60)
    writer.join()
    config = (ws / ".git" / "config").read_text()
    ok = "fsmonitor" not in config and "name = reviewer" in config
    assert ok, (len(config), config[-300:], r.stderr[-500:])  # (a short message: it can be huge)
    assert b"was replaced on the host during the run" in r.stderr, r.stderr


def test_git_commit_inside_keeps_the_users_identity(
    tmp_path: Path, support: KernelSupport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hidden home takes ~/.gitconfig with it; the user's name and email come along in the
    environment, so an agent's `git commit` inside still works."""
    import sandbox.runner

    home, ws = tmp_path / "home", tmp_path / "ws"
    home.mkdir()
    ws.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Rev Iewer\n\temail = rev@example.invalid\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setattr(sandbox.runner, "_IDENTITY", None)
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    with Sandbox(SandboxPolicy(workspace=ws), kernel=support, prewarm=False) as sb:
        r = sb.run(["sh", "-c", "git init -q && git commit -q --allow-empty -m x && "
                    "git log --format='%an <%ae>'; cat ~/.gitconfig"])  # fmt: skip
    assert r.stdout.decode().splitlines()[0] == "Rev Iewer <rev@example.invalid>", r.stderr


def test_a_toolchain_dir_that_is_a_symlink_still_works(runner: Runner, area: Area) -> None:
    """`~/.cargo -> /elsewhere/cargo` (dotfile managers do this): the empty home view gets the
    same link, so `~/.cargo/bin/…` still runs; the rest of the home stays hidden."""
    _write(area.vis / "cargo" / "bin" / "tool", "#!/bin/sh\necho TOOL-RAN\n", 0o755)
    os.symlink(area.vis / "cargo", area.home / ".cargo")
    _own(area, area.home, area.vis / "cargo")
    r = runner.run(area, "sh", "-c", f"{area.home}/.cargo/bin/tool; cat {area.home}/.netrc",
                   cwd=area.ws)  # fmt: skip
    assert r.stdout == b"TOOL-RAN\n", (r.stdout, r.stderr)
    assert b"SECRET" not in r.stdout + r.stderr
