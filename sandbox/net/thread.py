"""The proxy on its own event loop in a background thread, for synchronous callers.

`lockgate sandbox run` blocks in `Sandbox.run` while the proxy must keep serving; the console,
which already has a loop, runs the proxy on that loop instead and does not need this.
The sandbox starts its zygote with fork+exec, which is safe whether or not this thread runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sandbox.net.proxy import AllowListProxy, Listening, RunContext

T = TypeVar("T")


class ProxyThread:
    def __init__(self, proxy: AllowListProxy) -> None:
        self.proxy = proxy
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="lockgate-proxy", daemon=True)
        self._started = False

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> ProxyThread:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run a coroutine on the proxy's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def listen(self, path: Path, context: RunContext | None = None) -> Listening:
        return self.call(self.proxy.listen(path, context))

    def stop(self) -> None:
        if not self._started:
            self._loop.close()
            return
        if self._loop.is_closed():
            return
        try:
            self.call(self.proxy.close(), timeout=10.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10.0)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> ProxyThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
