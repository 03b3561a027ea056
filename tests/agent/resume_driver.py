"""A real `lockgate run` session without the console, for the conversation-resume tests: run it
against the fake server, SIGKILL it while an action waits, then run it again with `resume`.

    python resume_driver.py WORKSPACE BASE_URL API run      # writes WORKSPACE/waiting, then idles
    python resume_driver.py WORKSPACE BASE_URL API resume   # approves everything, prints JSON

The session is the real one (`open_session`: sandbox, risk engine, policy, audit log, session
index) and the link is built by `lockgate run`'s own `build_link`, with the killed session's
conversation when resuming, so this is the production path minus the screen. A reviewer is
played by an observer that approves what waits (only in `resume` mode).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Literal, cast

from app.cli.run_cmd import build_link
from app.core.events import ActionStateChanged, PipelineEvent
from app.core.model import Verdict, VerdictKind
from app.core.state import ActionState
from app.session import SessionOptions, find_resumable, open_session

TASK = "clean the build"


class Marker:
    """Writes WORKSPACE/waiting when something waits, so the test knows when to kill."""

    def __init__(self, ws: Path) -> None:
        self.ws = ws

    def notify(self, event: PipelineEvent) -> None:
        if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
            (self.ws / "waiting").write_text(event.action_id)


async def main(ws: Path, base_url: str, api: Literal["responses", "chat"], mode: str) -> None:
    resume = None
    if mode == "resume":
        candidates = find_resumable(ws)
        if not candidates:
            print(json.dumps({"resumable": False}))
            return
        resume = candidates[0]
    session = open_session(SessionOptions(workspace=ws, resume=resume))
    link = build_link(
        TASK,
        api=api,
        model="gpt-test",
        base_url=base_url,
        context=session.context,
        retries=0,
        conversation=resume.recovery.conversation if resume is not None else (),
    )
    pipeline = session.pipeline
    async with session:
        if mode == "run":
            pipeline.add_observer(Marker(ws))
            await pipeline.run(link)
            return
        loop = asyncio.get_running_loop()

        def approve(action_id: str) -> None:
            if pipeline.view(action_id).state is ActionState.WAITING:
                pipeline.submit_verdict(Verdict(action_id, VerdictKind.APPROVE, key="y"))

        class Reviewer:
            def notify(self, event: PipelineEvent) -> None:
                if isinstance(event, ActionStateChanged) and event.state is ActionState.WAITING:
                    loop.call_soon(approve, event.action_id)

        pipeline.add_observer(Reviewer())
        before = {v.action.id: str(v.state) for v in pipeline.views()}
        for view in pipeline.waiting():  # recovered actions wait without an event
            loop.call_soon(approve, view.action.id)
        await asyncio.wait_for(pipeline.run(link), 60)
        after = {v.action.id: str(v.state) for v in pipeline.views()}
    print(json.dumps({"resumable": True, "before": before, "after": after}))


if __name__ == "__main__":
    asyncio.run(
        main(
            Path(sys.argv[1]),
            sys.argv[2],
            cast(Literal["responses", "chat"], sys.argv[3]),
            sys.argv[4],
        )
    )
