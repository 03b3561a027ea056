"""The Chat Completions link against a real HTTP server: tool calls by index, `tool` messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_openai import SSE, FakeOpenAI, Status, chat_stream, error_body
from linkkit import API_KEY, FAST, drive, everything, last_status, ok, proposals, statuses, text

from app.agent.chat import ChatLink
from app.agent.transport import make_client
from app.core.model import Action, CommandAction, PatchAction, Result, ResultStatus
from app.core.ports import SessionContext

PATCH = "*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n"


@pytest.fixture
def server() -> Any:
    with FakeOpenAI() as s:
        yield s


def link_for(server: FakeOpenAI, context: SessionContext | None = None) -> ChatLink:
    client, url, key = make_client(api_key=API_KEY, base_url=server.base_url)
    return ChatLink(
        "make the tests pass",
        client=client,
        context=context
        or SessionContext(
            workspace=Path("/tmp/ws"), network="allow", allowed_domains=("pypi.org",)
        ),
        model="local-model",
        base_url=url,
        api_key=key,
        backoff=FAST,
    )


def args(**kw: Any) -> str:
    return json.dumps(kw)


async def test_tool_calls_accumulate_by_index_and_results_are_tool_messages(
    server: FakeOpenAI,
) -> None:
    server.reply(
        chat_stream(
            content="Let me check.",
            tool_calls=[
                (
                    "call_a",
                    "shell",
                    args(commands=["ls", "python -m pytest -q"], workdir="src", timeout_ms=3000),
                ),
                ("call_b", "apply_patch", args(patch=PATCH)),
            ],
            split=5,
        ),
        chat_stream(content="Fixed."),
    )

    def respond(action: Action) -> Result:
        if isinstance(action, PatchAction):
            return Result(
                action.id,
                ResultStatus.COMPLETED,
                message="Updated a.py (+1 -1).",
                files_changed=("a.py",),
            )
        assert isinstance(action, CommandAction)
        if action.command == "ls":
            return Result(
                action.id,
                ResultStatus.COMPLETED,
                exit_code=0,
                stdout=b"a.py\n",
                stdout_total=5,
                ran="ls",
            )
        return Result(
            action.id, ResultStatus.DENIED, message="denied by policy (core:headless): needs review"
        )

    events = await drive(link_for(server), respond)
    acts = proposals(events)
    assert [a.command for a in acts if isinstance(a, CommandAction)] == [
        "ls",
        "python -m pytest -q",
    ]
    cmd = acts[0]
    assert (
        isinstance(cmd, CommandAction)
        and cmd.cwd == "src"
        and cmd.timeout_s == 3.0
        and cmd.call_id == "call_a"
    )
    patch = acts[2]
    assert isinstance(patch, PatchAction) and patch.patch == PATCH
    assert text(events) == "Let me check.Fixed."
    assert last_status(events).state == "done"

    first, second = server.bodies()
    assert first["model"] == "local-model" and first["stream"] is True
    assert [t["function"]["name"] for t in first["tools"]] == ["shell", "apply_patch"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["commands"]
    system, user = first["messages"]
    assert system["role"] == "system" and "Allowed domains: pypi.org" in system["content"]
    assert user == {"role": "user", "content": "make the tests pass"}
    assistant, tool_a, tool_b = second["messages"][2:]
    assert assistant == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {
                    "name": "shell",
                    "arguments": args(
                        commands=["ls", "python -m pytest -q"], workdir="src", timeout_ms=3000
                    ),
                },
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "apply_patch", "arguments": args(patch=PATCH)},
            },
        ],
    }
    assert tool_a == {
        "role": "tool",
        "tool_call_id": "call_a",
        "content": "$ ls\n[exit code 0]\n[stdout]\na.py\n\n\n"
        "$ python -m pytest -q\n[exit code 126]\n[stderr]\n"
        "lockgate: denied by policy (core:headless): needs review\nThis command did not run.",
    }
    assert tool_b == {
        "role": "tool",
        "tool_call_id": "call_b",
        "content": "[applied]\nUpdated a.py (+1 -1).",
    }


async def test_bad_arguments_unknown_tools_and_cut_json_become_error_messages(
    server: FakeOpenAI,
) -> None:
    server.reply(
        chat_stream(
            tool_calls=[
                ("c1", "shell", '{"commands": ["ls"'),  # invalid JSON
                ("c2", "browse", args(url="https://x")),
                ("c3", "shell", args(commands=[])),
                ("c4", "shell", "[1, 2]"),
                ("c5", "apply_patch", args(diff="x")),
                ("c6", "shell", args(command="echo ok")),  # lenient: one command as a string
            ]
        ),
        chat_stream(content="ok"),
    )
    events = await drive(link_for(server), ok(b"ok\n"))
    assert [a.command for a in proposals(events) if isinstance(a, CommandAction)] == ["echo ok"]
    tools = [m for m in server.bodies()[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tools] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    c1, c2, c3, c4, c5, c6 = (m["content"] for m in tools)
    assert c1.startswith("lockgate: the arguments of this shell call are not valid JSON")
    assert (
        c2
        == "lockgate: unknown tool 'browse': the tools are `shell` and `apply_patch`. Nothing ran."
    )
    assert "`commands` must be a non-empty list" in c3
    assert "must be a JSON object" in c4
    assert "`patch` must be the patch text" in c5
    assert c6.startswith("$ echo ok\n[exit code 0]")


async def test_length_cut_arguments_say_so(server: FakeOpenAI) -> None:
    server.reply(
        chat_stream(tool_calls=[("c1", "shell", '{"commands": ["cat big')], finish_reason="length"),
        chat_stream(content="ok"),
    )
    await drive(link_for(server), ok())
    tool = server.bodies()[1]["messages"][-1]
    assert "cut off by the output token limit" in tool["content"]


async def test_stream_broken_after_tool_calls_answers_each_and_runs_nothing(
    server: FakeOpenAI,
) -> None:
    server.reply(
        chat_stream(
            tool_calls=[
                ("c1", "shell", args(commands=["ls"])),
                ("c2", "shell", args(commands=["rm -rf x"])),
            ],
            cut_after_chunks=6,
            cut="abort",
        ),
        chat_stream(content="ok"),
    )
    events = await drive(link_for(server), ok())
    assert proposals(events) == []
    tools = [m for m in server.bodies()[1]["messages"] if m["role"] == "tool"]
    assert tools and all("stream broke off" in m["content"] for m in tools)


async def test_stream_broken_before_anything_useful_is_retried(server: FakeOpenAI) -> None:
    server.reply(
        chat_stream(content="partial answer", cut_after_chunks=2),
        chat_stream(content="whole answer"),
    )
    events = await drive(link_for(server), ok())
    assert any(s.state == "retrying" for s in statuses(events))
    assert last_status(events).state == "done"
    assert len(server.bodies()) == 2


async def test_tool_call_without_id_gets_one(server: FakeOpenAI) -> None:
    stream = chat_stream(tool_calls=[("", "shell", args(commands=["pwd"]))])
    server.reply(stream, chat_stream(content="ok"))
    await drive(link_for(server), ok(b"/w\n"))
    msgs = server.bodies()[1]["messages"]
    assert msgs[2]["tool_calls"][0]["id"] == "call_0"
    assert msgs[3]["tool_call_id"] == "call_0"


async def test_errors_and_backoff(server: FakeOpenAI) -> None:
    server.reply(
        Status(429, error_body("slow down", "rate_limit_exceeded")),
        Status(500, error_body("boom", type_="server_error")),
        chat_stream(content="ok"),
    )
    events = await drive(link_for(server), ok())
    assert [s.detail.split(")")[0] for s in statuses(events) if s.state == "retrying"] == [
        "retrying in 0 s (429",
        "retrying in 0 s (500",
    ]
    assert last_status(events).state == "done"


async def test_auth_error_never_shows_the_key(server: FakeOpenAI) -> None:
    server.reply(
        Status(401, error_body(f"Incorrect API key provided: {API_KEY}.", "invalid_api_key"))
    )
    events = await drive(link_for(server), ok())
    assert last_status(events).state == "error"
    assert API_KEY not in everything(events) and "SECRETSECRET" not in everything(events)


async def test_headless_prompt_says_asks_are_denied(server: FakeOpenAI) -> None:
    server.reply(chat_stream(content="ok"))
    ctx = SessionContext(workspace=Path("/w"), network="off", headless=True)
    await drive(link_for(server, ctx), ok())
    system = server.bodies()[0]["messages"][0]["content"]
    assert "No human is watching" in system and "The network is OFF" in system


async def test_a_flood_of_proposals_is_refused_past_the_cap(server: FakeOpenAI) -> None:
    server.reply(
        chat_stream(
            tool_calls=[
                ("c1", "shell", args(commands=[f"echo {n}" for n in range(64)])),
                ("c2", "shell", args(commands=["echo over"])),
            ]
        ),
        chat_stream(content="ok"),
    )
    events = await drive(link_for(server), ok())
    assert len(proposals(events)) == 64
    tools = [m for m in server.bodies()[1]["messages"] if m["role"] == "tool"]
    assert tools[1]["content"].startswith("lockgate: more than 64 actions in one turn")


async def test_whole_tool_calls_in_one_chunk_with_object_arguments(server: FakeOpenAI) -> None:
    """What some compatible servers send: the call at once, arguments as a JSON object."""
    chunk = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "delta": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "w1",
                            "type": "function",
                            "function": {"name": "shell", "arguments": {"commands": ["uname"]}},
                        },
                    ],
                },
            }
        ],
    }
    server.reply(SSE(((None, json.dumps(chunk)),)), chat_stream(content="ok"))
    events = await drive(link_for(server), ok(b"Linux\n"))
    assert [a.command for a in proposals(events) if isinstance(a, CommandAction)] == ["uname"]


async def test_a_server_that_ignores_stream_and_answers_with_json(server: FakeOpenAI) -> None:
    body = {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Listing.",
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "shell", "arguments": args(commands=["ls"])},
                        }
                    ],
                },
            }
        ],
    }
    server.reply(
        Status(200, body),
        Status(
            200,
            {
                "choices": [
                    {"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
                ]
            },
        ),
    )
    events = await drive(link_for(server), ok(b"a\n"))
    assert text(events) == "Listing.ok"
    assert [a.command for a in proposals(events) if isinstance(a, CommandAction)] == ["ls"]
    assert server.bodies()[1]["messages"][-1]["tool_call_id"] == "t1"
    assert last_status(events).state == "done"
