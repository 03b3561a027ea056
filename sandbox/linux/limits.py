"""Resource limits, and the process-count cap that must also hold for root.

RLIMIT_NPROC is ignored for host root even inside a user namespace, so root uses a pids cgroup
when one is writable. For other users RLIMIT_NPROC, set *after* unshare(CLONE_NEWUSER), counts
only the processes of the new user namespace (measured on 6.18), which is exactly the sandbox.
When neither applies, the supervisor counts /proc of the pid namespace and kills it past the cap.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import time

from sandbox.records import record

PIDS_V1 = "/sys/fs/cgroup/pids"
PIDS_V2 = "/sys/fs/cgroup"

CGROUP = "pids-cgroup"
RLIMIT = "rlimit-userns"
SUPERVISOR = "supervisor"

# the memory cap: a memory cgroup per command (below the console's own, so its limits still
# hold) where one can be made, else RLIMIT_DATA per process (with the process cap as a bound)
MEMCG = "memory-cgroup"
RLIMIT_DATA = "rlimit-data"
MEMORY_V1 = "/sys/fs/cgroup/memory"


def _own_cgroup(controller: str) -> str | None:
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            for line in f:
                _, names, path = line.rstrip("\n").split(":", 2)
                if controller in names.split(","):
                    return path
    except (OSError, ValueError):
        return None
    return None


def memory_cgroup_base() -> str | None:
    """Where this process can make memory cgroups for its commands (cgroup v1, as root): its
    own memory cgroup, so whatever limits the console has still apply. None elsewhere."""
    if os.geteuid() != 0 or not os.path.isfile(os.path.join(MEMORY_V1, "cgroup.procs")):
        return None
    own = _own_cgroup("memory")
    if own is None:
        return None
    base = os.path.normpath(os.path.join(MEMORY_V1, own.lstrip("/")))
    if not base.startswith(MEMORY_V1):
        return None
    limit = os.path.join(base, "memory.limit_in_bytes")
    return base if os.path.isfile(limit) and os.access(base, os.W_OK) else None


def memory_mechanism() -> str:
    return MEMCG if memory_cgroup_base() is not None else RLIMIT_DATA


def pids_cgroup_base() -> str | None:
    """Where we can create pids cgroups, or None (not root, read-only, no controller)."""
    if os.geteuid() != 0:
        return None
    if os.path.isfile(os.path.join(PIDS_V1, "cgroup.procs")) and os.access(PIDS_V1, os.W_OK):
        return PIDS_V1
    try:
        with open(os.path.join(PIDS_V2, "cgroup.subtree_control")) as f:
            if "pids" in f.read().split() and os.access(PIDS_V2, os.W_OK):
                return PIDS_V2
    except OSError:
        pass
    return None


def process_cap_mechanism() -> str:
    if pids_cgroup_base() is not None:
        return CGROUP
    if os.geteuid() != 0:
        return RLIMIT
    return SUPERVISOR


class CgroupPool:
    """pids cgroups owned by the zygote and reused: creating and removing a cgroup costs
    milliseconds (measured: 1-30 ms for mkdir+rmdir under load), joining one costs a write.
    A cgroup is free again once the supervisor that owned it has exited (its pidfd says so).
    They live under <base>/lockgate/<zygote id>/; a new zygote sweeps empty leftovers."""

    def __init__(self, base: str, limit_file: str = "pids.max", probe: int = 2) -> None:
        self.limit_file = limit_file
        self.root = os.path.join(base, "lockgate")
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.root, 0o755)
        _sweep_dead_zygotes(self.root)
        self.dir = os.path.join(self.root, f"z{os.getpid()}-{os.urandom(4).hex()}")
        os.mkdir(self.dir, 0o755)
        if base == PIDS_V2:  # cgroup v2: each level hands the pids controller down itself
            for d in (self.root, self.dir):
                _write_at_path(os.path.join(d, "cgroup.subtree_control"), "+pids")
        self.owners: dict[str, int | None] = {}  # name -> pidfd of the supervisor using it
        self.acquire(probe)  # prove it works now, not at the first command

    def acquire(self, limit: int) -> str:
        name = next((n for n, fd in self.owners.items() if fd is None or _exited(fd)), None)
        if name is None:
            name = str(len(self.owners))
        old = self.owners.get(name)
        if old is not None:
            os.close(old)
        self.owners[name] = None
        path = os.path.join(self.dir, name)
        os.makedirs(path, 0o755, exist_ok=True)
        _write_at_path(os.path.join(path, self.limit_file), str(limit))
        return path

    def own(self, path: str, pidfd: int) -> None:
        self.owners[os.path.basename(path)] = os.dup(pidfd)

    def close(self) -> None:
        """Wait a little for the last supervisors (their namespaces take milliseconds to go),
        then remove every cgroup that is empty."""
        deadline = time.monotonic() + 2.0
        for fd in self.owners.values():
            if fd is None:
                continue
            # woken by the exit itself (a pidfd reads as ready then), not by a polling tick
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            # A parent that does not ignore SIGCHLD (the one-shot CLI, sandbox/linux/oneshot.py)
            # reaps its supervisor here: a zombie would keep the cgroup busy. (The zygote
            # ignores SIGCHLD: nothing to reap, ECHILD.)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)
            os.close(fd)
        for attempt in range(50):
            _sweep(self.dir)
            if not os.path.exists(self.dir):
                return
            time.sleep(0.001 if attempt < 5 else 0.02)


def _sweep(top: str) -> None:
    """rmdir every empty cgroup in `top` and `top` itself (a populated one answers EBUSY)."""
    for dirpath, dirnames, _ in os.walk(top, topdown=False):
        for d in dirnames:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(dirpath, d))
    with contextlib.suppress(OSError):
        os.rmdir(top)


def _sweep_dead_zygotes(root: str) -> None:
    """Leftovers of zygotes that are gone (killed before they could clean up)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.startswith("z") or "-" not in name:
            continue
        try:
            os.kill(int(name[1:].split("-")[0]), 0)
        except ProcessLookupError:
            _sweep(os.path.join(root, name))
        except (ValueError, PermissionError):
            continue


def _exited(pidfd: int) -> bool:
    ready, _, _ = select.select([pidfd], [], [], 0)
    return bool(ready)


def join_cgroup(path: str) -> None:
    """Move this process into the cgroup (its children are born there).

    A single-threaded process on cgroup v1 moves its one thread: "0" (itself) written to
    `tasks`. For one thread that is the same move as `cgroup.procs`, but the kernel then skips
    the threadgroup lock, whose RCU sync made each join cost 6-20 ms here (0.15 ms this way);
    that was the largest part of a one-shot `lockgate sandbox run` as root. A process with
    more threads (never a supervisor: unshare(CLONE_NEWUSER) needs one) moves whole."""
    tasks = os.path.join(path, "tasks")
    if _thread_count() == 1 and os.path.exists(tasks):
        _write_at_path(tasks, "0")
        return
    _write_at_path(os.path.join(path, "cgroup.procs"), str(os.getpid()))


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _write_at_path(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


@record
class Limits:
    max_processes: int
    cpu_seconds: int | None
    max_file_size: int
    max_open_files: int
    memory: int | None = None  # RLIMIT_DATA per process (the memory cgroup, if any, on top)


def apply_rlimits(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_size, limits.max_file_size))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = limits.max_open_files
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (cap, cap))
    if limits.memory:
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory, limits.memory))
    if limits.cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))


def apply_nproc(count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NPROC, (count, count))


def count_processes(proc_fd: int) -> int:
    return sum(1 for name in os.listdir(proc_fd) if name.isdigit())
