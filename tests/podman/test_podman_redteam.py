"""The first red-team suite (tests/sandbox/test_sandbox_redteam_cli.py: the real `lockgate
sandbox run` CLI, host side checked) against the podman backend: the same test functions, with a
runner that adds `--sandbox-backend podman`, as root. Each CLI call is a session of its own (a
container start), so only the cases in HELD run here; every other case is in NOT_RUN with why
(a test checks that none is forgotten)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
import test_sandbox_redteam_cli as rt

pytestmark = pytest.mark.usefixtures("podman_ok")


class PodmanRunner(rt.Runner):
    def run(
        self, area: rt.Area, *argv: str, opts: tuple[str, ...] = (), **kw: object
    ) -> subprocess.CompletedProcess[bytes]:
        return super().run(area, *argv, opts=("--sandbox-backend", "podman", *opts), **kw)


@pytest.fixture
def runner(podman_ok: None) -> Iterator[rt.Runner]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    yield PodmanRunner("root", (sys.executable, "-m", "app"), env)


@pytest.fixture
def area(runner: rt.Runner) -> Iterator[rt.Area]:
    a = rt._make_area(0)
    try:
        yield a
    finally:
        shutil.rmtree(a.root, ignore_errors=True)
        shutil.rmtree(a.outer, ignore_errors=True)


c_probe = rt.c_probe
HELD = (
    "test_protected_names_and_git_redirection",
    "test_secrets_and_keys_stay_out",
    "test_a_git_symlink_target_cannot_be_swapped",  # failed before mounts at real paths
    "test_device_nodes_outside_the_sandbox_dev_are_dead",  # failed before nodev binds
    "test_a_git_dir_named_by_a_git_file_inside_the_workspace",
    "test_writes_outside_the_workspace_leave_the_host_unchanged",  # /dev nodes: read-only binds
)
for _name in HELD:
    globals()[_name] = getattr(rt, _name)

_TIME = "held when the whole suite ran against podman (43 s single-process); left out for time"
NOT_RUN: dict[str, str] = {
    **{
        name: _TIME
        for name in (
            "test_a_git_pointer_created_from_nothing_is_removed",
            "test_network_and_host_sockets_unreachable",
            "test_outside_processes_untouchable",
            "test_syscall_bypasses",
            "test_terminal_injection_with_a_real_tty",
            "test_timeout_kills_setsid_and_double_forked",
            "test_fork_bomb_and_flood_stay_bounded",
            "test_fd_and_file_size_limits",
            "test_exit_status_contract_and_byte_exact_streams",
            "test_refused_places",
            "test_cwd_outside_the_workspace_is_only_a_cwd",
            "test_a_writable_parent_cannot_move_the_workspace_away",
            "test_a_repository_made_inside_keeps_only_safe_config",
            "test_linked_worktrees_cannot_be_redirected",
            "test_links_and_fifos_planted_in_git_are_removed",
        )
    },
}


def test_every_red_team_case_is_held_or_listed() -> None:
    cases = {n for n in dir(rt) if n.startswith("test_") and n != "test_proc_net_unix_parsing"}
    assert cases == set(HELD) | set(NOT_RUN), cases ^ (set(HELD) | set(NOT_RUN))
