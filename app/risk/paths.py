"""Where a path really points, and what lives there: the workspace, a private temp dir, a device,
a secret, a place that runs code later (persistence), or somewhere else on the machine.

Resolution is lexical (no filesystem access): the reviewed command has not run yet, and a
reviewer must get the same answer whether or not the target exists.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Where = Literal["workspace", "tmp", "device", "outside", "unknown"]


class _Globs:
    """A list of globs compiled into one regex: which is the first that matches a name (the
    same answer as trying fnmatchcase on each in turn, in one pass). Compiled on first use: a
    one-shot process that never asks pays nothing (~2 ms for the protected paths)."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self.groups: list[int] = []
        self._rx: re.Pattern[str] | None = None

    @property
    def rx(self) -> re.Pattern[str]:
        if self._rx is None:
            parts: list[str] = []
            groups: list[int] = []
            group = 1
            for p in self.patterns:
                body = fnmatch.translate(p)
                parts.append(f"({body})")
                groups.append(group)
                group += 1 + re.compile(body).groups
            self.groups = groups
            self._rx = re.compile("|".join(parts))
        return self._rx

    def first(self, name: str) -> int | None:
        m = self.rx.match(name)
        if m is None:
            return None
        for k, g in enumerate(self.groups):
            if m.group(g) is not None:
                return k
        return None


def home_dir() -> str:
    # What os.path.expanduser("~") answers when HOME is set, without its per-call work.
    home = os.environ.get("HOME")
    if home:
        return home.rstrip("/") or "/"
    return os.path.expanduser("~").rstrip("/") or "/"


# Paths relative to the home directory. Values say what a reviewer must be told.
_HOME_SECRETS: tuple[tuple[str, str], ...] = (
    (".ssh/id_*", "a private SSH key"),
    (".ssh/*_rsa", "a private SSH key"),
    (".ssh/*_ed25519", "a private SSH key"),
    (".ssh/*key*", "an SSH key"),
    (".ssh", "your SSH keys"),
    (".ssh/*", "your SSH configuration and keys"),
    (".aws", "your AWS credentials"),
    (".aws/*", "your AWS credentials"),
    (".config/gcloud", "your Google Cloud credentials"),
    (".config/gcloud/*", "your Google Cloud credentials"),
    (".azure", "your Azure credentials"),
    (".azure/*", "your Azure credentials"),
    (".kube/config", "your Kubernetes credentials"),
    (".kube", "your Kubernetes credentials"),
    (".docker/config.json", "your Docker registry credentials"),
    (".netrc", "saved passwords (.netrc)"),
    (".npmrc", "your npm token (.npmrc)"),
    (".pypirc", "your PyPI upload token (.pypirc)"),
    (".gnupg", "your GPG private keys"),
    (".gnupg/*", "your GPG private keys"),
    (".git-credentials", "saved git passwords"),
    (".config/gh/hosts.yml", "your GitHub CLI token"),
    (".config/gh", "your GitHub CLI token"),
    (".config/hub", "your GitHub token"),
    (".password-store", "your password store"),
    (".password-store/*", "your password store"),
    (".vault-token", "your Vault token"),
    (".terraform.d/credentials.tfrc.json", "your Terraform Cloud token"),
    (".cargo/credentials*", "your crates.io token"),
    (".gem/credentials", "your RubyGems token"),
    (".bash_history", "your shell history (often holds pasted secrets)"),
    (".zsh_history", "your shell history (often holds pasted secrets)"),
    (".mozilla/*", "your browser profile (cookies, saved logins)"),
    (".config/google-chrome/*", "your browser profile (cookies, saved logins)"),
    (".config/chromium/*", "your browser profile (cookies, saved logins)"),
    ("Library/Keychains*", "your macOS keychain"),
    ("Library/Application Support/Google/Chrome/*", "your browser profile (cookies, saved logins)"),
    ("Library/Application Support/Firefox/*", "your browser profile (cookies, saved logins)"),
    ("Library/Application Support/BraveSoftware/*", "your browser profile (saved logins)"),
    ("Library/Application Support/Microsoft Edge/*", "your browser profile (saved logins)"),
    ("Library/Cookies*", "your browser cookies"),
    (".config/BraveSoftware/*", "your browser profile (cookies, saved logins)"),
    (".config/microsoft-edge/*", "your browser profile (cookies, saved logins)"),
    (".local/share/keyrings*", "your desktop keyring"),
    (".config/op*", "your 1Password session"),
    (".pgpass", "saved database passwords"),
    (".my.cnf", "saved database passwords"),
)

# Not secrets as such, but files whose contents an agent rarely needs and that often hold
# tokens or personal data: reading one is asked, not denied.
_HOME_PRIVATE: tuple[tuple[str, str], ...] = (
    (".bashrc", "your shell startup file (tokens are often exported there)"),
    (".bash_profile", "your shell startup file (tokens are often exported there)"),
    (".bash_aliases", "your shell startup file"),
    (".profile", "your login startup file (tokens are often exported there)"),
    (".zshrc", "your shell startup file (tokens are often exported there)"),
    (".zshenv", "your shell startup file (tokens are often exported there)"),
    (".zprofile", "your shell startup file (tokens are often exported there)"),
    (".config/fish/*", "your shell configuration (tokens are often exported there)"),
    (".gitconfig", "your git configuration (can hold tokens and credential helpers)"),
    (".config/git/*", "your git configuration (can hold tokens and credential helpers)"),
    (".config", "your applications' settings (many keep tokens there)"),
    (".config/*", "your applications' settings (many keep tokens there)"),
    (".local/share/*", "your applications' data"),
    ("*history*", "a history file (often holds pasted secrets)"),
    (".*hst", "a history file"),
    (".viminfo", "your editor's history"),
    ("Documents*", "your personal files"),
    ("Desktop*", "your personal files"),
    ("Downloads*", "your personal files"),
    ("Pictures*", "your personal files"),
    ("Library/Messages*", "your messages"),
    ("Library/Mail*", "your mail"),
)

_ABS_PRIVATE: tuple[tuple[str, str], ...] = (
    ("/etc/passwd", "the list of the machine's user accounts"),
    ("/etc/group", "the list of the machine's user groups"),
    ("/var/log/*", "system logs"),
    ("/home/*", "another user's home directory"),
    ("/Users/*", "another user's home directory"),
)

_ABS_SECRETS: tuple[tuple[str, str], ...] = (
    ("/etc/shadow", "the system password hashes"),
    ("/etc/gshadow", "the system password hashes"),
    ("/etc/sudoers", "the sudo rules"),
    ("/etc/ssh/ssh_host_*_key", "the machine's SSH host key"),
    ("/etc/ssl/private*", "TLS private keys"),
    ("/root/*", "root's home directory"),
    ("/var/run/secrets*", "mounted service-account secrets"),
    ("/run/secrets*", "mounted secrets"),
    ("/proc/*/environ", "another process's environment (tokens)"),
)

ENV_FILE = "an environment file (API keys)"

_NAME_SECRETS: tuple[tuple[str, str], ...] = (
    ("id_rsa", "a private SSH key"),
    ("id_dsa", "a private SSH key"),
    ("id_ecdsa", "a private SSH key"),
    ("id_ed25519", "a private SSH key"),
    ("*.pem", "a key or certificate file"),
    ("*.key", "a private key file"),
    ("*.p12", "a key store"),
    ("*.pfx", "a key store"),
    ("*.jks", "a key store"),
    ("*.keystore", "a key store"),
    ("*.kdbx", "a password database"),
    (".env", ENV_FILE),
    (".env.*", ENV_FILE),
    ("*.env", ENV_FILE),
    ("credentials", "a credentials file"),
    ("credentials.json", "a credentials file"),
    ("service-account*.json", "a cloud service-account key"),
    ("secrets.*", "a secrets file"),
    (".netrc", "saved passwords (.netrc)"),
    (".pgpass", "saved database passwords"),
    (".htpasswd", "password hashes"),
)

_NOT_SECRET = re.compile(r"\.(example|sample|template|dist|defaults?)$|\.pub$", re.I)

_HOME_PERSIST: tuple[tuple[str, str], ...] = (
    (".bashrc", "your shell's startup file"),
    (".bash_profile", "your shell's startup file"),
    (".bash_login", "your shell's startup file"),
    (".bash_logout", "your shell's logout file"),
    (".profile", "your login profile"),
    (".zshrc", "your shell's startup file"),
    (".zshenv", "your shell's startup file"),
    (".zprofile", "your shell's startup file"),
    (".zlogin", "your shell's startup file"),
    (".config/fish/*", "your shell's startup files"),
    (".ssh/authorized_keys*", "the list of keys allowed to log in as you"),
    (".ssh/config", "your SSH client configuration"),
    (".ssh/rc", "a script SSH runs at every login"),
    (".config/autostart*", "programs started at login"),
    (".config/systemd/*", "your systemd services"),
    (".local/share/systemd/*", "your systemd services"),
    ("Library/LaunchAgents*", "programs macOS starts at login"),
    (".gitconfig", "your global git configuration"),
    (".config/git/*", "your global git configuration"),
    (".npmrc", "your npm configuration (registry, scripts)"),
    (".pip/*", "your pip configuration (package index)"),
    (".config/pip/*", "your pip configuration (package index)"),
    (".pydistutils.cfg", "your Python build configuration"),
    (".curlrc", "your curl defaults"),
    (".wgetrc", "your wget defaults"),
    (".inputrc", "your readline configuration"),
    (".vimrc", "your editor startup file"),
    (".config/nvim/*", "your editor startup files"),
    (".emacs*", "your editor startup file"),
    (".tmux.conf", "your tmux configuration"),
    (".xinitrc", "your X session startup"),
    (".xprofile", "your X session startup"),
    (".local/bin*", "a directory on your PATH"),
    ("bin", "a directory on your PATH"),
    ("bin/*", "a directory on your PATH"),
    (".docker/config.json", "your Docker configuration"),
    (".kube/config", "your Kubernetes configuration"),
    (".config/lockgate*", "lockgate's own configuration"),
    (".claude*", "an AI agent's configuration"),
    (".codex*", "an AI agent's configuration"),
    (".cursor*", "an AI agent's configuration"),
    (".bash_history", "your shell history"),
    (".zsh_history", "your shell history"),
)

_ABS_PERSIST: tuple[tuple[str, str], ...] = (
    ("/etc/cron*", "the system's scheduled jobs"),
    ("/var/spool/cron*", "scheduled jobs"),
    ("/etc/systemd*", "system services"),
    ("/lib/systemd*", "system services"),
    ("/usr/lib/systemd*", "system services"),
    ("/etc/init.d*", "system start-up scripts"),
    ("/etc/rc.local", "a system start-up script"),
    ("/etc/profile*", "every user's login profile"),
    ("/etc/bash.bashrc", "every user's shell startup"),
    ("/etc/zsh*", "every user's shell startup"),
    ("/etc/environment", "every process's environment"),
    ("/etc/ld.so.preload", "a library loaded into every program"),
    ("/etc/ld.so.conf*", "the system library search path"),
    ("/etc/sudoers*", "the sudo rules"),
    ("/etc/passwd", "the user accounts"),
    ("/etc/shadow", "the user passwords"),
    ("/etc/group", "the user groups"),
    ("/etc/hosts", "the host name table (can redirect any domain)"),
    ("/etc/resolv.conf", "the DNS configuration"),
    ("/etc/apt*", "the system package sources"),
    ("/etc/yum*", "the system package sources"),
    ("/etc/pam.d*", "the login authentication rules"),
    ("/etc/ssh*", "the SSH server configuration"),
    ("/etc/xdg/autostart*", "programs started at every login"),
    ("/etc/udev*", "device event hooks"),
    ("/etc/modules*", "kernel modules loaded at boot"),
    ("/etc/security*", "login security rules"),
    ("/usr/local/bin*", "a directory on everyone's PATH"),
    ("/usr/bin*", "system programs"),
    ("/usr/sbin*", "system programs"),
    ("/bin*", "system programs"),
    ("/sbin*", "system programs"),
    ("/usr/lib*", "system libraries"),
    ("/lib*", "system libraries"),
    ("/boot*", "the boot loader and kernel"),
    ("/Library/LaunchDaemons*", "services macOS starts at boot"),
    ("/Library/LaunchAgents*", "programs macOS starts at login"),
    ("/var/log*", "the system logs"),
)

# Inside the workspace: files other tools run on their own, outside the sandbox's view.
_PROTECTED: tuple[tuple[str, str, int], ...] = (
    (".git/hooks*", "a git hook: it runs outside any sandbox the next time git is used", 85),
    (".git/config", "the repository's git config (can make git run programs)", 75),
    (".git", "the repository's history (.git)", 65),
    (".git/*", "git's internal files", 45),
    (".vscode/tasks.json", "VS Code tasks (can run commands when the folder opens)", 75),
    (".vscode/settings.json", "VS Code settings (can point tools at programs)", 60),
    (".vscode/launch.json", "VS Code launch configurations", 50),
    (".vscode/extensions.json", "recommended VS Code extensions", 45),
    (".idea/*", "IDE run configurations", 50),
    (".envrc", "a direnv file: it runs when anyone enters the folder", 75),
    (".devcontainer*", "the dev container definition (runs on open)", 60),
    (".github/workflows*", "a CI workflow: it runs with the repository's secrets", 45),
    (".gitlab-ci.yml", "the CI pipeline: it runs with the repository's secrets", 45),
    (".circleci*", "the CI pipeline: it runs with the repository's secrets", 45),
    ("Jenkinsfile", "the CI pipeline: it runs with the repository's secrets", 45),
    (".travis.yml", "the CI pipeline", 45),
    ("azure-pipelines.yml", "the CI pipeline", 45),
    (".pre-commit-config.yaml", "pre-commit hooks (run on every commit)", 45),
    (".husky*", "git hooks installed by husky", 60),
    (".claude*", "an AI agent's configuration (can allow commands)", 60),
    (".cursor*", "an AI agent's configuration", 60),
    (".codex*", "an AI agent's configuration", 60),
    (".lockgate.toml", "lockgate's project policy", 45),
    ("Dockerfile", "the container image recipe (its RUN steps run at build time)", 36),
    ("Containerfile", "the container image recipe (its RUN steps run at build time)", 36),
    ("docker-compose*.y*ml", "the container set-up (mounts, privileges, ports)", 36),
    ("compose*.y*ml", "the container set-up (mounts, privileges, ports)", 36),
    ("setup.py", "setup.py: it runs at install time", 40),
    ("setup.cfg", "the package's install configuration", 36),
    ("package.json", "package.json: its scripts run at install time", 36),
    (".npmrc", "npm's project configuration (registry, scripts)", 60),
    (".yarnrc*", "yarn's project configuration (registry)", 60),
    ("pip.conf", "pip's configuration (package index)", 60),
    (".pypirc", "PyPI upload credentials", 60),
    ("*.pth", "a .pth file: Python runs it at every start", 75),
    ("sitecustomize.py", "sitecustomize: Python runs it at every start", 70),
    ("usercustomize.py", "usercustomize: Python runs it at every start", 70),
)

_PROTECTED_GLOBS = _Globs(tuple(p for p, _w, _s in _PROTECTED))

_RAW_DEVICES = re.compile(
    r"^/dev/(sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|disk\d|mapper/|md\d|loop\d|"
    r"mem$|kmem$|port$|dm-\d|sr\d|rdisk)"
)
_BENIGN_DEVICES = frozenset(
    {
        "/dev/null",
        "/dev/zero",
        "/dev/stdout",
        "/dev/stderr",
        "/dev/stdin",
        "/dev/tty",
        "/dev/random",
        "/dev/urandom",
        "/dev/full",
    }
)
_TMP_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")
_SYSTEM_ROOTS = (
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/lib32",
    "/boot",
    "/var",
    "/opt",
    "/srv",
    "/root",
    "/home",
    "/sys",
    "/proc",
    "/dev",
    "/System",
    "/Library",
    "/Applications",
    "/Users",
    "/private",
    "/snap",
    "/mnt",
    "/media",
    "/run",
    "/nix",
)


@dataclass(frozen=True)
class PathInfo:
    raw: str
    abs: str | None  # normalised absolute path; None when it cannot be known before running
    where: Where
    display: str  # how to name it to a reviewer (~/… for home)
    secret: str | None = None
    persistence: str | None = None
    private: str | None = None  # personal or token-prone, though not a known secret store
    protected: tuple[str, int] | None = None  # (what, score) for workspace files run by others
    broad: bool = False  # "/", home, a top-level system dir: deleting it is catastrophic
    raw_device: bool = False
    dev_tcp: tuple[str, str] | None = None  # bash's /dev/tcp/HOST/PORT

    @property
    def inside(self) -> bool:
        return self.where == "workspace"


_TABLES: dict[int, tuple[_Globs, tuple[str, ...]]] = {}


def _rel_match(rel: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """The first entry of `table` whose glob matches `rel` (as fnmatchcase would)."""
    hit = _TABLES.get(id(table))
    if hit is None:
        hit = (_Globs(tuple(p for p, _ in table)), tuple(w for _, w in table))
        _TABLES[id(table)] = hit
    k = hit[0].first(rel)
    return None if k is None else hit[1][k]


def _glob_hits_secret(pattern: str) -> str | None:
    for name, what in _NAME_SECRETS:
        if not any(ch in name for ch in "*?[") and fnmatch.fnmatchcase(name, pattern):
            return what
    return None


def _glob_base(p: str) -> str:
    """The literal directory part before any glob character."""
    m = re.search(r"[*?\[]", p)
    if not m:
        return p
    cut = p[: m.start()]
    return cut.rsplit("/", 1)[0] if "/" in cut else ""


@lru_cache(maxsize=4096)
def resolve(
    raw: str, cwd: str | None, workspace: str, home: str, climbed: bool = False
) -> PathInfo:
    """Resolve `raw` as the shell would from `cwd` (None = unknown directory).

    `climbed`: the directory was reached by climbing out of the workspace (`cd ..`); then a
    temp-dir location is not scratch but somewhere the workspace's neighbours live.
    """
    p = raw
    if p.startswith("~"):
        head, _, rest = p.partition("/")
        base = home if head == "~" else posixpath.join(posixpath.dirname(home), head[1:])
        p = posixpath.join(base, rest) if rest else base
    elif p.startswith("file://"):
        p = p[7:]
    if not p.startswith("/"):
        if cwd is None:
            return _classify(raw, None, workspace, home)
        p = posixpath.join(cwd, p)
        climbed = climbed or ".." in raw.split("/")
    else:
        climbed = False
    norm = posixpath.normpath(p)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return _classify(raw, norm, workspace, home, climbed)


def _home_config(norm: str, ws: str, home: str) -> bool:
    """A workspace that is the home directory (or holds it) does not make the home's own
    files workspace files: ~ itself, its dotfiles and dot-directories, and its secret stores
    keep what they are (lockgate started from ~ must still see `>> ~/.bashrc`)."""
    h = home.rstrip("/") or "/"
    if h == "/" or not (h == ws or h.startswith(ws + "/")):
        return False
    if norm == h:
        return True
    if not norm.startswith(h + "/"):
        return False
    rel = norm[len(h) + 1 :]
    return (
        rel.startswith(".")
        or _rel_match(rel, _HOME_SECRETS) is not None
        or _rel_match(rel, _HOME_PERSIST) is not None
        or _rel_match(rel, _HOME_PRIVATE) is not None
    )


def _classify(
    raw: str, norm: str | None, workspace: str, home: str, climbed: bool = False
) -> PathInfo:
    if norm is None:
        # Relative path in an unknown directory: the basename still tells secrets.
        base = raw.rstrip("/").rsplit("/", 1)[-1]
        secret = None if _NOT_SECRET.search(base) else _rel_match(base, _NAME_SECRETS)
        return PathInfo(raw, None, "unknown", raw, secret=secret)
    ws = workspace.rstrip("/") or "/"
    base_name = norm.rsplit("/", 1)[-1]
    if ws != "/" and (norm == ws or norm.startswith(ws + "/")) and not _home_config(norm, ws, home):
        rel = "" if norm == ws else norm[len(ws) + 1 :]
        protected = None
        hits = [
            h
            for h in (_PROTECTED_GLOBS.first(rel), _PROTECTED_GLOBS.first(base_name))
            if h is not None
        ]
        k = min(hits) if hits else None
        if k is not None:
            _pat, what, score = _PROTECTED[k]
            protected = (what, score)
        secret = None if _NOT_SECRET.search(base_name) else _rel_match(base_name, _NAME_SECRETS)
        if secret is None and any(ch in base_name for ch in "*?[") and base_name[0] not in "*?[":
            secret = _glob_hits_secret(base_name)  # `find . -name 'id_*'`, not `*.json`
        display = rel or "."
        # `*`, `.*`, `*/`: everything; `*.log` is only the files it names.
        ws_broad = rel in ("", "*", ".*") or (_glob_base(rel) == "" and rel.strip("*./") == "")
        return PathInfo(
            raw, norm, "workspace", display, secret=secret, protected=protected, broad=ws_broad
        )
    if norm in _BENIGN_DEVICES or norm.startswith("/dev/fd/") or norm.startswith("/proc/self/fd"):
        return PathInfo(raw, norm, "device", norm)
    if norm.startswith(("/dev/tcp/", "/dev/udp/")):
        parts = norm.split("/")
        host = parts[3] if len(parts) > 3 else "?"
        port = parts[4] if len(parts) > 4 else "?"
        return PathInfo(raw, norm, "device", norm, dev_tcp=(host, port))
    if _RAW_DEVICES.match(norm):
        return PathInfo(raw, norm, "device", norm, raw_device=True)
    if ws != "/" and ws.startswith(norm.rstrip("/") + "/"):
        # An ancestor of the workspace: acting on it acts on the workspace and its neighbours.
        return PathInfo(raw, norm, "outside", _home_display(norm, home), broad=True)
    ws_parent = posixpath.dirname(ws)
    # Home before temp: with HOME under /tmp (CI runners, containers) ~/.ssh is still ~/.ssh.
    in_home = home not in ("/", *_TMP_ROOTS) and within(norm, home)
    for t in _TMP_ROOTS:
        if in_home or not (norm == t or norm.startswith(t + "/")):
            continue
        # A workspace nested inside a temp dir (/tmp/job/…/ws): the tree it sits in is
        # someone's files, not scratch. A workspace directly in the temp dir (/tmp/ws) leaves
        # the rest of the temp dir scratch — in the sandbox it is private anyway.
        ws_top = t + "/" + ws[len(t) + 1 :].split("/", 1)[0] if within(ws, t) and ws != t else ""
        near = (ws_top and ws_top != ws and within(norm, ws_top)) or (
            ws_parent not in ("/", *_TMP_ROOTS) and within(norm, ws_parent)
        )
        if not near and not climbed:
            return PathInfo(raw, norm, "tmp", norm, broad=norm == t)
    # Home first: for root, home is /root.
    secret = None
    persistence = None
    private: str | None = None
    display = norm
    broad = False
    if home != "/" and (norm == home or norm.startswith(home + "/")):
        rel = "" if norm == home else norm[len(home) + 1 :]
        display = "~" if not rel else "~/" + rel
        if not _NOT_SECRET.search(base_name):
            secret = _rel_match(rel, _HOME_SECRETS)
        persistence = _rel_match(rel, _HOME_PERSIST)
        private = _rel_match(rel, _HOME_PRIVATE)
        globbase = _glob_base(rel)
        broad = (
            rel == ""
            or (globbase == "" and "*" in rel)
            or rel in (".config", ".local", ".local/share", ".cache")
        )
        if rel and "/" not in rel and not broad:
            # A whole top-level folder of home (~/projects, ~/Documents) is a lot to lose.
            broad = rel in (
                "projects",
                "src",
                "code",
                "Documents",
                "Desktop",
                "Downloads",
                "work",
                "dev",
                "Pictures",
                "git",
                "repos",
            )
    else:
        if not _NOT_SECRET.search(base_name):
            secret = _rel_match(norm, _ABS_SECRETS)
        persistence = _rel_match(norm, _ABS_PERSIST)
        private = _rel_match(norm, _ABS_PRIVATE)
        top = "/" + norm.strip("/").split("/", 1)[0] if norm != "/" else "/"
        globbase = _glob_base(norm)
        broad = (
            norm == "/"
            or norm in _SYSTEM_ROOTS
            or globbase in ("", "/")
            or (
                top in _SYSTEM_ROOTS
                and norm.count("/") <= 2
                and top not in ("/opt", "/srv", "/mnt", "/media", "/home")
            )
        )
        if top == "/home" and norm.count("/") <= 2:
            broad = True
    if secret is None and not _NOT_SECRET.search(base_name):
        secret = _rel_match(base_name, _NAME_SECRETS)
    if secret is None and any(ch in base_name for ch in "*?[") and base_name.strip("*?.") != "":
        # A glob (`find ~ -name 'id_*'`) that would match a secret's name; a bare `*` (what
        # `find DIR -type f` prints) names every file, not a hunt for keys.
        secret = _glob_hits_secret(base_name)
    return PathInfo(
        raw,
        norm,
        "outside",
        display,
        secret=secret,
        persistence=persistence,
        private=private,
        broad=broad,
    )


def _home_display(norm: str, home: str) -> str:
    if home != "/" and (norm == home or norm.startswith(home + "/")):
        return "~" + norm[len(home) :]
    return norm


def within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
