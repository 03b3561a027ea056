"""Messages between the console side and the zygote: JSON over SOCK_SEQPACKET sockets, with the
command's pipes and a private reply channel passed as descriptors (SCM_RIGHTS).

A request has two halves. The `Plan` is what stays the same for every command of a Sandbox (the
writable trees, the private views, the layers, the limits), so the zygote can build a spare
supervisor for it ahead of time. The `Run` is this one command.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        data = dict(data)
        data["writable"] = tuple(data["writable"])
        data["identity"] = tuple(tuple(i) for i in data["identity"])
        data["private"] = tuple(data["private"])
        return cls(**data)

    def key(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    timeout: float | None
    git_dirs: tuple[str, ...]
    read_only: tuple[str, ...]
    deny: tuple[str, ...]
    proxy_socket: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "argv": list(self.argv),
            "env": self.env,
            "cwd": self.cwd,
            "timeout": self.timeout,
            "git_dirs": list(self.git_dirs),
            "read_only": list(self.read_only),
            "deny": list(self.deny),
            "proxy_socket": self.proxy_socket,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        data = dict(data)
        for key in ("argv", "git_dirs", "read_only", "deny"):
            data[key] = tuple(data[key])
        return cls(**data)


def encode_run(plan_json: bytes, run: Run) -> bytes:
    """`run` line, the plan's JSON line (encoded once per Sandbox), the run's JSON line. The
    zygote compares the plan line as bytes and never parses a run: it only forwards it.
    json.dumps escapes newlines inside strings, so a line is always one JSON value."""
    return b"run\n" + plan_json + b"\n" + json.dumps(run.to_json()).encode()


def split_run(msg: bytes) -> tuple[bytes, bytes]:
    """(plan line, run line) of a run message."""
    _, plan, run = msg.split(b"\n", 2)
    return plan, run


@dataclass(frozen=True)
class RunReport:
    """The supervisor's last word about one command."""

    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    error: str = ""  # setup failed: the command never ran
    note: str = ""  # e.g. "process limit reached"

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, raw: bytes) -> RunReport:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("report is not an object")
        return cls(
            exit_code=_int_or_none(data.get("exit_code")),
            signal=_int_or_none(data.get("signal")),
            timed_out=bool(data.get("timed_out")),
            cancelled=bool(data.get("cancelled")),
            error=str(data.get("error") or ""),
            note=str(data.get("note") or ""),
        )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
