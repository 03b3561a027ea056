"""Agent link overhead: how fast the Responses and Chat links turn a real SSE stream from a
loopback server into events, and how long one tool-call round trip takes.

Prints figures; asserts nothing. Run: .venv/bin/python bench/agent_link.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_openai import FakeOpenAI, chat_stream, responses_stream, shell_call  # noqa: E402

from app.agent.chat import ChatLink  # noqa: E402
from app.agent.errors import Backoff  # noqa: E402
from app.agent.responses import ResponsesLink  # noqa: E402
from app.agent.transport import make_client  # noqa: E402
from app.core.events import AgentText, Proposed, TurnEnded  # noqa: E402
from app.core.model import Result, ResultStatus  # noqa: E402
from app.core.ports import AgentLink, SessionContext  # noqa: E402

CTX = SessionContext(workspace=Path("/tmp"))


async def drain(link: AgentLink) -> tuple[int, int]:
    texts = proposals = 0
    pending = []
    async for event in link.events():
        if isinstance(event, AgentText):
            texts += 1
        elif isinstance(event, Proposed):
            proposals += 1
            pending.append(event.action)
        elif isinstance(event, TurnEnded):
            await link.submit_results(
                event.turn_id,
                [
                    Result(
                        a.id, ResultStatus.COMPLETED, exit_code=0, stdout=b"ok\n", stdout_total=3
                    )
                    for a in pending
                ],
            )
            pending = []
    return texts, proposals


async def main() -> None:
    text = "word " * 4000  # 20 000 characters, streamed in 7-character deltas
    with FakeOpenAI() as server:
        client, url, key = make_client(api_key="sk-bench", base_url=server.base_url)

        server.reply(responses_stream([], text=text))
        t0 = time.perf_counter()
        texts, _ = await drain(
            ResponsesLink("t", client=client, context=CTX, model="m", base_url=url, api_key=key)
        )
        dt = time.perf_counter() - t0
        print(f"responses: {texts} text deltas in {dt * 1000:.0f} ms ({texts / dt:,.0f} events/s)")

        server.reply(chat_stream(content=text))
        t0 = time.perf_counter()
        texts, _ = await drain(
            ChatLink("t", client=client, context=CTX, model="m", base_url=url, api_key=key)
        )
        dt = time.perf_counter() - t0
        print(f"chat:      {texts} text deltas in {dt * 1000:.0f} ms ({texts / dt:,.0f} events/s)")

        rounds = []
        for _ in range(20):
            server.reply(
                responses_stream([shell_call("c1", "ls", "pwd")]),
                responses_stream([], response_id="resp_2", text="done"),
            )
            t0 = time.perf_counter()
            await drain(
                ResponsesLink(
                    "t",
                    client=client,
                    context=CTX,
                    model="m",
                    base_url=url,
                    api_key=key,
                    backoff=Backoff(attempts=0),
                )
            )
            rounds.append((time.perf_counter() - t0) * 1000 / 2)
        print(
            f"round trip (one request + SSE + parse, loopback): median {statistics.median(rounds):.1f} ms, "
            f"max {max(rounds):.1f} ms over {len(rounds)}"
        )


if __name__ == "__main__":
    asyncio.run(main())
