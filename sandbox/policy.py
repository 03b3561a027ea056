"""What a sandboxed command may touch, and what came of running it.

The policy is built by the session, never from an agent's request: the workspace and the writable
roots are fixed for the session, and a model-chosen cwd is only ever a cwd.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import sys
from pathlib import Path

from sandbox.paths import within
from sandbox.records import field, record

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Literal


class SandboxError(Exception):
    """The sandbox could not run a command (setup failed, refused). One-line message."""


class SandboxUnavailable(SandboxError):
    """The kernel lacks a required layer; the message says what is missing and how to get it."""


class PolicyError(SandboxError):
    """The policy itself is unsafe (e.g. the workspace is / or the home directory)."""


def _home() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))


def _homes() -> tuple[Path, ...]:
    """$HOME and the account's home from the password database: a changed $HOME must not make
    the real home (and the secrets in it) a workspace or readable."""
    homes = [_home()]
    with contextlib.suppress(KeyError, OSError):
        homes.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return tuple(dict.fromkeys(h for h in homes if h.is_absolute()))


def default_deny_read() -> tuple[Path, ...]:
    """Secret stores nothing in a sandbox should read, plus the console's own config (API keys)."""
    paths: list[Path] = []
    for home in _homes():
        paths += _home_secrets(home)
    return tuple(dict.fromkeys(paths))


def _home_secrets(home: Path) -> list[Path]:
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    paths = [
        home / ".ssh",
        home / ".aws",
        home / ".gnupg",
        xdg / "gh",
        home / ".config" / "gh",
        home / ".netrc",
        home / ".docker",
        home / ".kube",
        home / ".git-credentials",
        home / ".npmrc",
        home / ".pypirc",
        xdg / "lockgate",
        *(
            Path(v)
            for k in ("LOCKGATE_CONFIG_DIR", "LOCKGATE_DATA_DIR")
            if (v := os.environ.get(k))
        ),
        home / ".local" / "share" / "lockgate",
        # more credential stores: cloud CLIs, package registries, other agents' logins
        home / ".azure",
        home / ".config" / "gcloud",
        home / ".password-store",
        home / ".cargo" / "credentials.toml",
        home / ".cargo" / "credentials",
        home / ".config" / "hub",
        home / ".terraform.d" / "credentials.tfrc.json",
        home / ".vault-token",
        home / ".s3cfg",
        home / ".boto",
        home / ".config" / "rclone",
        home / ".m2" / "settings.xml",
        home / ".gradle" / "gradle.properties",
        home / ".cache" / "huggingface" / "token",
        home / ".huggingface" / "token",
        home / ".codex" / "auth.json",
        home / ".claude" / ".credentials.json",
        home / ".config" / "github-copilot",
        home / ".bash_history",
        home / ".zsh_history",
        home / ".python_history",
        # host secrets readable by the uid the console runs as (root on many machines)
        Path("/etc/shadow"),
        Path("/etc/gshadow"),
        Path("/etc/ssh"),
        Path("/etc/ssl/private"),
    ]
    own = os.environ.get("LOCKGATE_CONFIG_DIR")
    if own:
        paths.append(Path(own))
    if xdg != home / ".config":
        paths.append(home / ".config" / "lockgate")
    return paths


def _load_protected() -> tuple[str, ...]:
    """The protected names, kept in one data file (protected_names.txt) so an audit of the
    agents and editors changes one list."""
    path = Path(__file__).with_name("protected_names.txt")
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.strip()
        if name and not name.startswith("#"):
            names.append(name)
    return tuple(dict.fromkeys(names))


# Names inside the workspace a command must not change (see protected_names.txt).
DEFAULT_PROTECTED: tuple[str, ...] = _load_protected()

# Environment variables a command inherits from the console; everything else (API keys, tokens,
# agent settings) stays out. The caller may add variables explicitly per run.
DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "TZ",
    "EDITOR",
    "PAGER",
)


# Directories in a home that a build needs to read (compilers, interpreters, package caches):
# only these, when they exist, show through the hidden home, read-only.
TOOLCHAIN_DIRS: tuple[str, ...] = (
    ".pyenv",
    ".cargo/bin",
    ".cargo/registry",
    ".rustup",
    ".nvm",
    ".local/bin",
    ".local/lib/python*",
    ".local/share/uv/python",
    ".local/share/uv/tools",  # what uv's ~/.local/bin links point to
    ".local/pipx/venvs",  # … and pipx's
    ".local/share/pipx/venvs",
    ".local/share/mise/installs",
    ".local/share/fnm",
    ".asdf/installs",
    ".asdf/shims",
    ".rbenv",
    ".goenv",
    ".volta",
    ".bun/bin",
    ".deno/bin",
    ".sdkman/candidates",
    "go/pkg/mod",
    ".m2",
)


def home_dirs() -> tuple[Path, ...]:
    """The homes a command may not read: $HOME and the account's home from passwd, and the
    user's own XDG config/data/state dirs when they lie outside them (credential stores live
    there too)."""
    homes = _homes()
    out = list(homes)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        value = os.environ.get(var)
        if not value or not os.path.isabs(value):
            continue
        real = Path(os.path.realpath(value))
        if real == Path("/") or any(real == h or h in real.parents for h in homes):
            continue
        try:
            if os.stat(real).st_uid != os.getuid():
                continue  # not the user's own (e.g. a system dir): never hidden whole
        except OSError:
            continue
        out.append(real)
    return tuple(dict.fromkeys(out))


def default_toolchains() -> tuple[Path, ...]:
    """The toolchain directories that exist in the homes (see TOOLCHAIN_DIRS)."""
    out: list[Path] = []
    for home in _homes():
        for rel in TOOLCHAIN_DIRS:
            if rel.endswith("*"):  # a name prefix (without Path.glob's regex: ~0.3 ms a start)
                parent, _, prefix = rel[:-1].rpartition("/")
                out += sorted(
                    p for p in _entries(home / parent) if p.name.startswith(prefix) and p.is_dir()
                )
            elif (home / rel).is_dir():
                out.append(home / rel)
    return tuple(dict.fromkeys(out))


def _entries(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def default_memory() -> int | None:
    """Half of the machine's memory (Linux; None elsewhere: no cap)."""
    try:
        with open("/proc/meminfo", "rb") as f:  # bytes: no codec to load on a one-shot's start
            for line in f:
                if line.startswith(b"MemTotal:"):
                    return int(line.split()[1]) * 1024 // 2
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_readable() -> tuple[Path, ...]:
    """The console's own interpreter and environment stay readable even when they live under a
    private view (a venv in /tmp): tools the session set up (pytest, pip) keep working inside."""
    seen: list[Path] = []
    for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):
        real = Path(os.path.realpath(p))
        if real not in seen and real != Path("/"):
            seen.append(real)
    return tuple(seen)


@record
class ContainerSpec:
    """Where the podman backend runs (backend="podman"; the Linux backend ignores it): one
    local image (`image`, None: the default built by `lockgate sandbox image build`), or an
    exploded root file system (`rootfs`), on this host or on a podman system connection."""

    image: str | None = None
    rootfs: Path | None = None
    connection: str | None = None  # podman system connection name, or a unix:// service URL


@record
class SandboxPolicy:
    workspace: Path
    writable: tuple[Path, ...] = ()
    network: Literal["off", "proxy"] = "off"
    proxy_socket: Path | None = None
    proxy_port: int = 3128
    deny_read: tuple[Path, ...] = field(default_factory=default_deny_read)
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    env_allow: tuple[str, ...] = DEFAULT_ENV_ALLOW
    allow_degraded: bool = False
    # Directories that get a fresh, empty, private tmpfs (host services keep unix sockets there).
    # None: /tmp, /run, /var/run, /var/tmp and $XDG_RUNTIME_DIR.
    private_views: tuple[Path, ...] | None = None
    # Extra read-only roots (directories or files): granted by Landlock and, under a hidden
    # home or a private view, re-exposed there by a read-only bind.
    readable: tuple[Path, ...] = field(default_factory=default_readable)
    # limits
    max_processes: int = 512
    cpu_seconds: int | None = None
    max_file_size: int = 8 << 30
    max_open_files: int = 4096
    tmp_size: int = 1 << 30
    # Reads are an allow-list: these homes are hidden (None: $HOME and the passwd home) and only
    # the toolchain directories and `readable` roots show through them.
    homes: tuple[Path, ...] | None = None
    toolchains: tuple[Path, ...] = field(default_factory=default_toolchains)
    # which backend holds the policy: the OS sandbox ("linux") or a podman container
    backend: Literal["linux", "podman"] = "linux"
    container: ContainerSpec = ContainerSpec()
    # bytes of memory a command may use in all (a memory cgroup where the console can make one,
    # else RLIMIT_DATA per process); default half the machine's memory; None: no cap
    memory: int | None = field(default_factory=default_memory)
    # pathname unix sockets in the workspace (or a writable root) a command may connect to; every
    # other socket there is covered (a container's docker.sock, a dev server's socket)
    allow_unix_sockets: tuple[Path, ...] = ()

    def checked(self) -> SandboxPolicy:
        """Resolve paths and refuse unsafe roots; returns the policy the sandbox really uses."""
        ws = Path(os.path.realpath(self.workspace))
        if not ws.is_dir():
            raise PolicyError(f"workspace {self.workspace} is not a directory")
        homes = tuple(Path(os.path.realpath(h)) for h in _homes())
        _refuse_root("workspace", ws, homes)
        hidden = tuple(Path(os.path.realpath(d)) for d in self.deny_read)
        _refuse_hidden("workspace", ws, hidden)
        writable: list[Path] = []
        for w in self.writable:
            real = Path(os.path.realpath(w))
            if not real.is_dir():
                raise PolicyError(f"writable root {w} is not a directory")
            _refuse_root("writable root", real, homes)
            _refuse_hidden("writable root", real, hidden)
            writable.append(real)
        if self.network not in ("off", "proxy"):
            raise PolicyError(f"unknown network mode {self.network!r}")
        if self.backend not in ("linux", "podman"):
            raise PolicyError(f"unknown sandbox backend {self.backend!r} (linux or podman)")
        if not 0 < self.proxy_port < 65536:
            raise PolicyError(f"proxy port {self.proxy_port} out of range")
        if self.max_processes < 2:
            raise PolicyError("max_processes must be at least 2")
        if self.memory is not None and self.memory < 16 << 20:
            raise PolicyError("memory must be at least 16 MiB")
        hidden_homes = tuple(
            dict.fromkeys(
                Path(os.path.realpath(h))
                for h in (home_dirs() if self.homes is None else self.homes)
                if Path(h).is_absolute() and os.path.realpath(h) != "/"
            )
        )
        readable: list[Path] = []
        for r in self.readable:
            real = Path(os.path.realpath(r))
            if not real.exists():
                continue
            _refuse_root("readable root", real, (*homes, *hidden_homes))
            _refuse_hidden("readable root", real, hidden)
            readable.append(real)
        toolchains = tuple(
            dict.fromkeys(
                Path(os.path.realpath(t))
                for t in self.toolchains
                if os.path.isdir(t) and os.path.realpath(t) != "/"
            )
        )
        return SandboxPolicy(
            workspace=ws,
            writable=tuple(writable),
            network=self.network,
            proxy_socket=self.proxy_socket,
            proxy_port=self.proxy_port,
            deny_read=tuple(Path(os.path.abspath(p)) for p in self.deny_read),
            protected=self.protected,
            env_allow=self.env_allow,
            allow_degraded=self.allow_degraded,
            private_views=self.private_views,
            readable=tuple(dict.fromkeys(readable)),
            max_processes=self.max_processes,
            cpu_seconds=self.cpu_seconds,
            max_file_size=self.max_file_size,
            max_open_files=self.max_open_files,
            tmp_size=self.tmp_size,
            homes=hidden_homes,
            toolchains=toolchains,
            backend=self.backend,
            container=self.container,
            memory=self.memory,
            allow_unix_sockets=tuple(
                Path(os.path.realpath(os.path.dirname(os.path.abspath(a))), os.path.basename(a))
                for a in self.allow_unix_sockets
            ),
        )


def _refuse_root(what: str, path: Path, homes: tuple[Path, ...]) -> None:
    if path == Path("/"):
        raise PolicyError(f"{what} may not be / (the whole file system)")
    for kernel_fs in (Path("/proc"), Path("/sys"), Path("/dev")):
        if within(path, kernel_fs):
            raise PolicyError(f"{what} {path} is in {kernel_fs}, the kernel's own files")
    for home in homes:
        if within(home, path):
            raise PolicyError(f"{what} {path} is the home directory or one of its parents")


def _refuse_hidden(what: str, path: Path, hidden: tuple[Path, ...]) -> None:
    for secret in hidden:
        if within(path, secret):
            raise PolicyError(f"{what} {path} is inside {secret}, which the sandbox hides")


@record
class Completed:
    """One finished command. Streams are bytes cut to head+tail within max_output; the totals
    count everything the command wrote."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    duration_s: float = 0.0
    cancelled: bool = False
    signal: int | None = None
    stdout_total: int = 0
    stderr_total: int = 0
    guard: tuple[str, ...] = ()  # protected paths the command created and the guard removed
    # what the guard could not do (a protected name may have survived): shown loudly
    guard_failures: tuple[str, ...] = ()

    @property
    def truncated(self) -> bool:
        return self.stdout_total > len(self.stdout) or self.stderr_total > len(self.stderr)

    @property
    def shell_status(self) -> int:
        """The status a shell would report: code, 124 on timeout, 128+N when killed by N."""
        if self.timed_out:
            return 124
        if self.signal is not None:
            return 128 + self.signal
        return self.exit_code if self.exit_code is not None else 125
