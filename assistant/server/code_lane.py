"""Threads of their own for the responses that may run code.

A code interpreter call holds its thread for as long as the code runs (up to the sandbox's wall time, a minute
by default). On the server's shared worker threads (anyio's 40), 40 sleeping cells would hold every one of them
and any other request, even a model listing, would wait for the code to finish. So the responses whose tools
include `code_interpreter` are pulled on this lane instead: a few threads, and a bounded number of responses
waiting for them; one more gets a 429 at once (the SDK retries it after a moment). How many sandbox calls run at
once server-wide, background responses included, is bounded by `Containers` (`run_code`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .error_responses import ApiError

T = TypeVar("T")


class CodeLane:
    def __init__(self, threads: int, waiting: int) -> None:
        self.threads = threads
        self.waiting = waiting
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="code-lane")
        self._pulls = 0  # running or waiting for a thread; only touched on the event loop

    def check_room(self) -> None:
        """A 429 when the lane's threads are busy and enough responses already wait for them."""
        if self._pulls >= self.threads + self.waiting:
            raise ApiError(
                429,
                f"The server is busy running code for {self.threads} responses, with {self.waiting} more waiting; "
                "try again in a moment.",
                type="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": "1"},
            )

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on one of the lane's threads."""
        self._pulls += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        finally:
            self._pulls -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
