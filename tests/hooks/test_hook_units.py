"""The hook's parts on their own: the wire (strict), each agent's output format, tool call →
action mapping, the sandbox rewrite, the settings merge of --install, the runtime dir checks
and the fast path's option reading."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from hookkit import claude_event, codex_event, gemini_event

from app.core.model import CommandAction, NetworkAction, PatchAction
from app.hooks import fast
from app.hooks.client import render
from app.hooks.endpoint import EndpointError, find_endpoint, read_private_file, runtime_dir
from app.hooks.install import InstallError, hook_command, plan_install
from app.hooks.mapping import MappingError, ToolCall, map_call
from app.hooks.service import SandboxSpec
from app.hooks.wire import Answer, Request, WireError, request_line

# --------------------------------------------------------------------------- wire


def test_answers_round_trip_and_anything_else_is_refused() -> None:
    a = Answer("allow", "ok", {"command": "x"}, "cmd-1")
    b = Answer.from_line(a.to_line())
    assert (b.decision, b.reason, b.updated_input, b.action_id) == (
        "allow",
        "ok",
        {"command": "x"},
        "cmd-1",
    )
    for bad in (
        b"[]",
        b'{"v": 2, "decision": "allow"}',
        b'{"v": 1, "decision": "maybe"}',
        b'{"v": 1, "decision": "allow", "reason": 3}',
        b'{"v": 1, "decision": "allow", "updated_input": "rm -rf /"}',
        b'{"v": 1, "decision": "ask", "updated_input": {}}',
    ):
        with pytest.raises(WireError):
            Answer.from_line(bad)


def test_requests_are_checked() -> None:
    r = Request.from_line(request_line("t", "claude", {"tool_name": "Bash"}, 5))
    assert (r.token, r.agent, r.wait_s) == ("t", "claude", 5.0)
    for bad in (b"{}", b'{"v":1,"token":"t","agent":"claude","event":[],"wait_s":1}',
                b'{"v":1,"token":"t","agent":"claude","event":{},"wait_s":0}'):  # fmt: skip
        with pytest.raises(WireError):
            Request.from_line(bad)


# --------------------------------------------------------------------------- output formats


def test_claude_output_format() -> None:
    out = json.loads(render("claude", Answer("allow", "ok", {"command": "c"})))
    assert out == {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "ok",
            "updatedInput": {"command": "c"},
        }
    }
    deny = json.loads(render("claude", Answer("deny", "no")))["hookSpecificOutput"]
    assert deny["permissionDecision"] == "deny" and "updatedInput" not in deny


def test_gemini_output_format() -> None:
    out = json.loads(render("gemini", Answer("allow", "ok", {"command": "c"})))
    assert out == {
        "decision": "allow",
        "reason": "ok",
        "hookSpecificOutput": {"hookEventName": "BeforeTool", "tool_input": {"command": "c"}},
    }
    assert json.loads(render("gemini", Answer("ask", "?")))["decision"] == "deny"  # no ask there


def test_codex_output_format() -> None:
    assert render("codex", Answer("allow", "ok")) == ""  # allow without rewrite: no opinion
    deny = json.loads(render("codex", Answer("deny", "")))["hookSpecificOutput"]
    assert deny["permissionDecision"] == "deny" and deny["permissionDecisionReason"]
    ask = json.loads(render("codex", Answer("ask", "why")))["hookSpecificOutput"]
    assert ask["permissionDecision"] == "deny"  # Codex refuses `ask`


# --------------------------------------------------------------------------- mapping


def mapped(agent: str, event: dict[str, object], ws: Path):  # type: ignore[no-untyped-def]
    return map_call(ToolCall.from_event(agent, event), workspace=ws, turn_id="claude:x")


def test_edits_become_diffs_of_the_current_file(workspace: Path) -> None:
    f = workspace / "a.py"
    f.write_text("x = 1\nx = 1\n")
    ev = claude_event(
        "Edit", {"file_path": str(f), "old_string": "x = 1", "new_string": "y"}, workspace
    )
    m = mapped("claude", ev, workspace)
    assert m.kind == "refuse" and "ambiguous" in m.reason  # Claude's Edit would fail the same way
    ev["tool_input"]["replace_all"] = True  # type: ignore[index]
    (action,) = mapped("claude", ev, workspace).actions
    assert isinstance(action, PatchAction) and action.format == "unified"
    assert "-x = 1\n-x = 1\n+y\n+y\n" in action.patch
    multi = claude_event(
        "MultiEdit",
        {"file_path": str(f), "edits": [{"old_string": "x = 1\nx", "new_string": "z"},
                                        {"old_string": "z = 1", "new_string": "w = 2"}]},
        workspace,
    )  # fmt: skip
    (action,) = mapped("claude", multi, workspace).actions
    assert "+w = 2" in action.reviewed_text  # the edits apply in order
    new = claude_event("Write", {"file_path": "sub/new.txt", "content": "hi"}, workspace)
    (action,) = mapped("claude", new, workspace).actions
    assert (
        "--- /dev/null" in action.reviewed_text
        and "\\ No newline at end of file" in action.reviewed_text
    )


def test_edits_that_cannot_be_reviewed_are_refused(workspace: Path, tmp_path: Path) -> None:
    (workspace / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MappingError, match="not UTF-8"):
        mapped(
            "claude",
            claude_event("Write", {"file_path": str(workspace / "bin"), "content": ""}, workspace),
            workspace,
        )
    (workspace / "out").symlink_to(tmp_path)
    link = claude_event(
        "Write", {"file_path": str(workspace / "out" / "x"), "content": "x"}, workspace
    )
    assert mapped("claude", link, workspace).kind == "refuse"  # through a symlink, out of bounds


def test_reads_become_the_equivalent_command(workspace: Path) -> None:
    cases = {
        ("claude", "Read"): ({"file_path": "/etc/shadow"}, "cat -- /etc/shadow"),
        ("claude", "Grep"): (
            {"pattern": "a b", "path": "/x", "glob": "*.py"},
            "grep -rn --include='*.py' -e 'a b' -- /x",
        ),
        ("claude", "Glob"): ({"pattern": "**/.env", "path": "/"}, "find / -path '**/.env'"),
        ("gemini", "read_file"): ({"file_path": "~/.ssh/id_rsa"}, "cat -- ~/.ssh/id_rsa"),
        ("gemini", "list_directory"): ({"dir_path": "/root"}, "ls -la -- /root"),
    }
    for (agent, tool), (args, command) in cases.items():
        event = (
            claude_event(tool, args, workspace)
            if agent == "claude"
            else gemini_event(tool, args, workspace)
        )
        m = mapped(agent, event, workspace)
        assert m.kind == "read"
        (action,) = m.actions
        assert isinstance(action, CommandAction) and action.command == command


def test_web_fetch_and_mcp(workspace: Path) -> None:
    m = mapped(
        "claude", claude_event("WebFetch", {"url": "http://h.example:8080/x"}, workspace), workspace
    )
    (action,) = m.actions
    assert isinstance(action, NetworkAction)
    assert (action.host, action.port, action.scheme) == ("h.example", 8080, "http")
    g = mapped(
        "gemini",
        gemini_event(
            "web_fetch", {"prompt": "see https://a.example/ and http://b.example/x"}, workspace
        ),
        workspace,
    )
    assert [a.host for a in g.actions] == ["a.example", "b.example"]  # type: ignore[union-attr]
    with pytest.raises(MappingError):
        mapped(
            "claude", claude_event("WebFetch", {"url": "file:///etc/passwd"}, workspace), workspace
        )
    tool = mapped(
        "claude", claude_event("mcp__db__query", {"sql": "drop table t"}, workspace), workspace
    )
    (action,) = tool.actions
    assert tool.kind == "tool" and action.id.startswith("tool-")
    assert shlex.split(action.reviewed_text) == ["mcp__db__query", '{"sql": "drop table t"}']


def test_codex_mapping(workspace: Path) -> None:
    shell = mapped(
        "codex", codex_event("Bash", {"command": ["git", "status"]}, workspace), workspace
    )
    assert shell.kind == "command" and shell.actions[0].reviewed_text == "git status"
    patch = "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch\n"
    m = mapped("codex", codex_event("apply_patch", {"command": patch}, workspace), workspace)
    assert m.kind == "patch" and m.actions[0].reviewed_text == patch


# --------------------------------------------------------------------------- the sandbox rewrite


@pytest.mark.parametrize(
    "command",
    [
        "echo 'a b' \"$HOME\"",
        'x=$(id); echo "$x" # c',
        "printf '%s\\n' \"it's\"\nexit 3",
        "a\\\\b; echo é\t✓",
    ],
)
def test_the_rewrite_hands_bash_the_exact_text(workspace: Path, command: str) -> None:
    spec = SandboxSpec(("/opt/lg bin/lockgate",), workspace, 600, ("--network", "allow"))
    wrapped = spec.wrap(command, cwd=None, timeout_s=30)
    words = shlex.split(wrapped)
    assert words[:6] == [
        "/opt/lg bin/lockgate",
        "sandbox",
        "run",
        "--workspace",
        str(workspace),
        "--timeout",
    ]
    assert words[6] == "30" and words[7:9] == ["--network", "allow"]
    assert words[-3:] == ["bash", "-c", command]
    # and a real shell (Claude Code runs it with bash) hands over the same words
    echoed = subprocess.run(
        ["bash", "-c", wrapped.replace("'/opt/lg bin/lockgate'", "printf '%s\\0'", 1)],
        capture_output=True, check=True,
    )  # fmt: skip
    assert echoed.stdout.split(b"\0")[-2].decode() == command


def test_timeout_is_the_shorter_of_the_agents_and_the_sessions(workspace: Path) -> None:
    spec = SandboxSpec(("lockgate",), workspace, 100)
    assert shlex.split(spec.wrap("ls", cwd=None, timeout_s=None))[6] == "100"
    assert shlex.split(spec.wrap("ls", cwd=None, timeout_s=500))[6] == "100"


# --------------------------------------------------------------------------- --install


def test_install_merges_and_never_clobbers(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir()
    other = {"matcher": "Bash", "hooks": [{"type": "command", "command": "mine.sh"}]}
    path.write_text(
        json.dumps({"permissions": {"allow": ["Bash(ls)"]}, "hooks": {"PreToolUse": [other]}})
    )
    command = hook_command(("/x/lockgate",), "claude")
    assert command == "/x/lockgate hook claude || exit 2"
    plan = plan_install("claude", path, command)
    after = json.loads(plan.after)
    assert after["permissions"] == {"allow": ["Bash(ls)"]}
    assert after["hooks"]["PreToolUse"][0] == other
    assert after["hooks"]["PreToolUse"][1] == {
        "matcher": "*", "hooks": [{"type": "command", "command": command, "timeout": 600}],
    }  # fmt: skip
    assert "+" in plan.diff() and "mine.sh" not in plan.diff().replace(" ", "").split("+")[-1]
    path.write_text(plan.after)
    assert not plan_install("claude", path, command).changes  # twice = once
    path.write_text("{ not json")
    with pytest.raises(InstallError, match="never overwrites"):
        plan_install("claude", path, command)


def test_gemini_install_entry(tmp_path: Path) -> None:
    plan = plan_install(
        "gemini", tmp_path / "settings.json", "lg hook gemini --timeout 590 || exit 2"
    )
    (group,) = json.loads(plan.after)["hooks"]["BeforeTool"]
    assert group["matcher"] == ".*"
    assert group["hooks"][0]["timeout"] == 600_000  # milliseconds


# --------------------------------------------------------------------------- runtime dir, fast path


def test_runtime_dir_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rdir = tmp_path / "run"
    rdir.mkdir(mode=0o755)
    os.chmod(rdir, 0o755)
    monkeypatch.setenv("LOCKGATE_RUNTIME_DIR", str(rdir))
    with pytest.raises(EndpointError, match="open to other users"):
        runtime_dir()
    with pytest.raises(EndpointError):
        find_endpoint(str(tmp_path))  # the hook then denies with this reason
    loose = tmp_path / "token"
    loose.write_text("t")
    os.chmod(loose, 0o644)
    with pytest.raises(EndpointError, match="not a private file"):
        read_private_file(str(loose))


def test_fast_path_takes_only_what_it_understands() -> None:
    assert fast._wait([]) is None
    assert fast._wait(["--timeout", "5"]) == 5.0
    assert fast._wait(["--timeout=2.5"]) == 2.5
    for declined in (["--policy-only"], ["--install"], ["--help"], ["--timeout", "x"],
                     ["--timeout", "0"], ["--timeout", "nan"], ["-w", "d"]):  # fmt: skip
        assert fast._wait(declined) is False
    assert fast._parse([]) == (None, False, None)
    assert fast._parse(["--policy-only", "-w", "/p", "--timeout=3"]) == (3.0, True, "/p")
    assert fast._parse(["--workspace=/p"]) == (None, False, "/p")
    for declined in (["--install"], ["--help"], ["-h"], ["--policy-only", "--policy-only"],
                     ["-w"], ["-w", "-x"], ["-w", "a", "-w", "b"], ["--timeout", "x"],
                     ["--project"], ["extra"]):  # fmt: skip
        assert fast._parse(declined) is None


def test_codex_install_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.hooks.install import settings_path

    assert (
        settings_path("codex", "project", tmp_path, tmp_path / "h")
        == tmp_path / ".codex/hooks.json"
    )
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "ch"))
    assert settings_path("codex", "user", tmp_path, tmp_path / "h") == tmp_path / "ch/hooks.json"
    plan = plan_install("codex", tmp_path / "hooks.json", "lg hook codex || exit 2")
    (group,) = json.loads(plan.after)["hooks"]["PreToolUse"]
    assert group == {
        "hooks": [{"type": "command", "command": "lg hook codex || exit 2", "timeout": 600}]
    }


def test_gemini_shell_directory_is_the_commands_cwd(workspace: Path) -> None:
    (workspace / "sub").mkdir()
    m = mapped(
        "gemini",
        gemini_event(
            "run_shell_command", {"command": "rm -rf build", "dir_path": "sub"}, workspace
        ),
        workspace,
    )
    (action,) = m.actions
    assert isinstance(action, CommandAction) and action.cwd == "sub"
    out = mapped(
        "gemini",
        gemini_event("run_shell_command", {"command": "ls", "dir_path": "/etc"}, workspace),
        workspace,
    )
    assert out.kind == "refuse" and "outside the workspace" in out.reason


def test_tools_lockgate_cannot_judge_need_a_rule(workspace: Path) -> None:
    from app.core.model import Assessment, Decision, DecisionKind, Level
    from app.hooks.handoff import HookPolicy

    class Inner:
        def __init__(self, source: str) -> None:
            self.source = source

        def decide(self, action: object, assessment: Assessment) -> Decision:
            return Decision(DecisionKind.ALLOW, "r", source=self.source)  # type: ignore[arg-type]

        def remember(self, action: object, verdict: object) -> None:
            return None

    tool = mapped("claude", claude_event("mcp__x__y", {}, workspace), workspace).actions[0]
    bash = mapped("claude", claude_event("Bash", {"command": "ls"}, workspace), workspace).actions[
        0
    ]
    safe = Assessment(score=0, level=Level.SAFE)
    assert HookPolicy(Inner("default")).decide(tool, safe).kind is DecisionKind.ASK
    assert HookPolicy(Inner("default")).decide(bash, safe).kind is DecisionKind.ALLOW
    for source in ("user", "project", "session"):
        assert HookPolicy(Inner(source)).decide(tool, safe).kind is DecisionKind.ALLOW


def test_serve_hands_its_network_options_on_to_sandbox_run() -> None:
    from app.cli.serve_cmd import sandbox_network_args

    assert sandbox_network_args({"network": "off", "allow_domain": ("x.org",)}) == ()
    args = sandbox_network_args(
        {"network": "allow", "allow_domain": ("pypi.org",), "deny_domain": ("evil.org",),
         "read_only_http": True, "inspect_tls": False}
    )  # fmt: skip
    assert args == (
        "--network", "allow", "--allow-domain", "pypi.org", "--deny-domain", "evil.org",
        "--read-only-http", "--no-inspect-tls",
    )  # fmt: skip


def test_minijson_reads_and_writes_what_json_does() -> None:
    from app.hooks import minijson

    values = [
        {"a": [1, -2, 3.5, 1e300, True, False, None, "", 'é✓\u202e\x00\n"\\']},
        {"tool_input": {"command": "echo 'a' \"b\" $(x)", "nested": [[{}], {"k": []}]}},
        "just a string",
        12345678901234567890,
    ]
    for value in values:
        text = json.dumps(value)
        assert minijson.loads(text) == value
        assert minijson.loads(f" \n{text}\t ".encode()) == value
        assert json.loads(minijson.dumps(value)) == value
        assert minijson.dumps(value) == json.dumps(value, ensure_ascii=True)
    for bad in ("", "{", '{"a": 1} x', "NaN", "[1,]", '"\x01"', "{'a': 1}", b"\xff"):
        with pytest.raises(ValueError):
            minijson.loads(bad)
    with pytest.raises(ValueError):
        minijson.dumps(float("nan"))
    with pytest.raises(TypeError):
        minijson.dumps({"a": object()})


def test_serve_refuses_a_runtime_dir_inside_its_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sandboxed commands read and write the workspace: a token and socket there would be
    theirs. Refused before anything is created."""
    from app.hooks.server import Listener, ServeError

    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setenv("LOCKGATE_RUNTIME_DIR", str(ws / ".lockgate-run"))
    with pytest.raises(ServeError, match="inside the workspace"):
        Listener(ws)
    assert list(ws.iterdir()) == []
    monkeypatch.setenv("LOCKGATE_RUNTIME_DIR", str(tmp_path / "run"))
    listener = Listener(ws)  # beside it: fine
    try:
        assert os.path.exists(listener.socket_path)
    finally:
        listener.close()
