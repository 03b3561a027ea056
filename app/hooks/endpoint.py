"""Where a running `lockgate serve` can be found: one socket, token and endpoint file per
workspace, in the user's private runtime directory. Standard library only, and not even
`pathlib` or `dataclasses` (~10 ms each to import): the hook client loads this on every tool call.

Nothing is written into the workspace: an agent can write there, so it could plant an endpoint
of its own. The runtime directory is the user's own (mode 0700, checked), and the sandbox gives
every command a private, empty view of it, so a sandboxed command cannot reach the console.
"""

from __future__ import annotations

import os
import stat
import sys

from app.hooks import minijson as json

# The built-in SHA-256, not OpenSSL's: `hashlib` costs the hook client ~7 ms to import.
if sys.version_info >= (3, 12):
    from _sha2 import sha256
else:
    from _sha256 import sha256

ENDPOINT_VERSION = 1


class EndpointError(Exception):
    """The runtime directory or an endpoint file cannot be trusted or read; one line."""


def runtime_path() -> str:
    """`$LOCKGATE_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/lockgate`, else `/tmp/lockgate-UID`."""
    own = os.environ.get("LOCKGATE_RUNTIME_DIR")
    if own:
        return own
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return os.path.join(xdg, "lockgate")
    return f"/tmp/lockgate-{os.getuid()}"


def runtime_dir(create: bool = False) -> str:
    """The runtime path, checked: a real directory owned by this user with no access for
    others; anything else (a symlink, another owner, group/other bits) is refused."""
    path = runtime_path()
    if create:
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise EndpointError(f"runtime dir {path}: {exc.strerror}") from None
    check_private_dir(path)
    return path


def check_private_dir(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise EndpointError(f"runtime dir {path} does not exist") from None
    except OSError as exc:
        raise EndpointError(f"runtime dir {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise EndpointError(f"runtime dir {path} is not a directory")
    if st.st_uid != os.getuid():
        raise EndpointError(f"runtime dir {path} belongs to another user")
    if st.st_mode & 0o077:
        raise EndpointError(f"runtime dir {path} is open to other users (mode {st.st_mode:o})")


def workspace_key(workspace: str) -> str:
    """A short name for a workspace's resolved path (socket paths must stay under 108 bytes)."""
    real = os.path.realpath(workspace)
    return sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def endpoint_paths(rdir: str, workspace: str) -> tuple[str, str, str]:
    """(endpoint file, socket, token file) of a workspace in runtime dir `rdir`."""
    base = os.path.join(rdir, f"serve-{workspace_key(workspace)}")
    return base + ".json", base + ".sock", base + ".token"


class Endpoint:
    """What the endpoint file says: the workspace served, its socket and token file."""

    __slots__ = ("pid", "socket", "token_file", "workspace")

    def __init__(self, workspace: str, socket: str, token_file: str, pid: int) -> None:
        self.workspace = workspace
        self.socket = socket
        self.token_file = token_file
        self.pid = pid

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": ENDPOINT_VERSION,
                "workspace": self.workspace,
                "socket": self.socket,
                "token_file": self.token_file,
                "pid": self.pid,
            }
        )

    def token(self) -> str:
        return read_private_file(self.token_file).strip()


def read_private_file(path: str) -> str:
    """A file of ours that nobody else may read or write (opened without following links)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise EndpointError(f"{path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise EndpointError(f"{path}: not a private file of this user")
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace")


def write_private_file(path: str, text: str) -> None:
    """Create `path` (0600) atomically: a temp file beside it, renamed over it."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def find_endpoint(start: str) -> Endpoint | None:
    """The endpoint of the nearest workspace at or above `start` that has one, or None.

    Raises EndpointError when the runtime dir or a found endpoint file cannot be trusted."""
    if not os.path.lexists(runtime_path()):
        return None  # no serve has run for this user (since the runtime dir was cleared)
    rdir = runtime_dir()
    here = os.path.realpath(start)
    while True:
        ep_file = endpoint_paths(rdir, here)[0]
        if os.path.lexists(ep_file):
            return load_endpoint(ep_file)
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def load_endpoint(path: str) -> Endpoint:
    try:
        data = json.loads(read_private_file(path))
        return Endpoint(
            workspace=str(data["workspace"]),
            socket=str(data["socket"]),
            token_file=str(data["token_file"]),
            pid=int(data["pid"]),
        )
    except EndpointError:
        raise
    except (ValueError, KeyError, TypeError):
        raise EndpointError(f"{path}: not a lockgate endpoint file") from None
