"""Messages between the console side, the zygote, a spare supervisor and its init. JSON over
SOCK_SEQPACKET sockets, descriptors passed with SCM_RIGHTS.

    console -> zygote      b"spare\\n" PLAN "\\n" VIEW          + [reply socket]
    supervisor -> console  b"ready"                              + [init socket, init pidfd]
                           {"error": ...}                        (setup failed)
                           {"note": ...}                         (e.g. process cap reached)
    console -> supervisor  b"proxy\\n" PATH  ->  b"ok" | {"error": ...}
    console -> init        RUN                                   + [stdin, stdout, stderr]
    init -> console        {"code": N} | {"signal": N}

The `Plan` is what stays the same for every command of a Sandbox (writable trees, private views,
layers, limits). The `View` is the per-run part of the mount view (protected binds, hidden
secrets), stamped with the identity of every path it covers, so a spare prepared earlier is
only used while the file system still looks the same. The `Run` is the command itself.
"""

from __future__ import annotations

import json

from sandbox.records import asdict, record

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from typing import Any


@record
class Plan:
    writable: tuple[str, ...]  # workspace first, then the writable roots (resolved)
    identity: tuple[tuple[int, int], ...]  # (st_dev, st_ino) of each writable tree
    private: tuple[str, ...]
    tmp_size: int
    landlock_abi: int
    seccomp: bool
    process_cap: str
    max_processes: int
    cpu_seconds: int | None
    max_file_size: int
    max_open_files: int
    network: str = "off"
    proxy_port: int = 3128
    readable: tuple[str, ...] = ()  # read-only roots (resolved): re-exposed under hidden views
    hidden: tuple[str, ...] = ()  # homes: an empty read-only view, the readable roots shown
    read_rules: tuple[str, ...] = ()  # Landlock read grants (sandbox.visible); empty: none
    memory: int | None = None  # bytes a command may use (None: no cap)
    memory_cap: str = ""  # limits.MEMCG or limits.RLIMIT_DATA
    allow_sockets: tuple[str, ...] = ()  # sockets in the writable trees left reachable
    home_links: tuple[tuple[str, str], ...] = ()  # toolchain symlinks in a home, recreated

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        data = dict(data)
        data["writable"] = tuple(data["writable"])
        data["identity"] = tuple(tuple(i) for i in data["identity"])
        data["private"] = tuple(data["private"])
        for key in ("readable", "hidden", "read_rules", "allow_sockets"):
            data[key] = tuple(data.get(key, ()))
        data["home_links"] = tuple((str(a), str(b)) for a, b in data.get("home_links", ()))
        return cls(**data)


@record
class View:
    git_dirs: tuple[str, ...]
    read_only: tuple[str, ...]
    deny: tuple[str, ...]  # secrets that exist now (on the host)
    stamp: tuple[tuple[str, int, int], ...] = ()  # (path, st_dev, st_ino) of the above

    def to_json(self) -> dict[str, Any]:
        return {
            "git_dirs": list(self.git_dirs),
            "read_only": list(self.read_only),
            "deny": list(self.deny),
            "stamp": [list(s) for s in self.stamp],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> View:
        return cls(
            git_dirs=tuple(data["git_dirs"]),
            read_only=tuple(data["read_only"]),
            deny=tuple(data["deny"]),
            stamp=tuple((str(p), int(d), int(i)) for p, d, i in data.get("stamp", ())),
        )


def spare_request(plan_json: bytes, view_json: bytes) -> bytes:
    """json.dumps escapes newlines inside strings, so each line is one JSON value."""
    return b"spare\n" + plan_json + b"\n" + view_json


def split_spare(msg: bytes) -> tuple[Plan, View]:
    _, plan, view = msg.split(b"\n", 2)
    return Plan.from_json(json.loads(plan)), View.from_json(json.loads(view))


@record
class Run:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    # a script the program reads from descriptor 3 (`bash /dev/fd/3`): a command too long for
    # one argument (the kernel's limit is 128 KiB) still runs
    script: str | None = None

    def encode(self) -> bytes:
        data: dict[str, object] = {"argv": list(self.argv), "env": self.env, "cwd": self.cwd}
        if self.script is not None:
            data["script"] = self.script
        return json.dumps(data).encode()


# A run message longer than this travels in a memfd: a SOCK_SEQPACKET message is bounded by the
# socket buffer (~208 KiB), and a long command failed with "Message too long".
INLINE_MAX = 64 << 10
VIA_FD = b"@fd"


def run_message(payload: bytes) -> tuple[bytes, list[int]]:
    """(the message to send, extra descriptors to send after stdin/stdout/stderr). The caller
    closes the extra descriptors once sent."""
    if len(payload) <= INLINE_MAX:
        return payload, []
    import os

    fd = os.memfd_create("lockgate-run", os.MFD_CLOEXEC)
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return VIA_FD, [fd]


def read_run(msg: bytes, extra: list[int]) -> bytes:
    """The run message, read from its memfd when it came that way (the descriptors closed)."""
    import os

    try:
        if msg != VIA_FD:
            return msg
        if len(extra) != 1:
            return b""
        chunks = []
        while chunk := os.read(extra[0], 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        for fd in extra:
            os.close(fd)


def final_status(raw: bytes) -> dict[str, int] | None:
    """init's last word: {"code": N} or {"signal": N}; None for anything else."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    for key in ("code", "signal"):
        v = value.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return {key: v}
    return None
