"""Counts the bytes of every request body a turn sends, as it goes on the wire.

The SDK client is built with an httpx2 request hook; the hook adds the body size to whatever counter is active
in the current context (a turn sets one while it runs). Retries are counted: they were sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

import httpx2


class ByteCounter(Protocol):
    request_bytes: int


_active: ContextVar[ByteCounter | None] = ContextVar("assistant_request_meter", default=None)


def _count(request: httpx2.Request) -> None:
    counter = _active.get()
    if counter is None:
        return
    try:
        counter.request_bytes += len(request.content)
    except httpx2.RequestNotRead:  # a streamed upload: its size is in the header
        counter.request_bytes += int(request.headers.get("content-length", 0))


def count_request(request: httpx2.Request) -> None:
    _count(request)


async def count_request_async(request: httpx2.Request) -> None:
    _count(request)


@contextmanager
def metering(counter: ByteCounter) -> Iterator[None]:
    token = _active.set(counter)
    try:
        yield
    finally:
        try:
            _active.reset(token)
        except ValueError:  # closed from another context (a generator finalized elsewhere)
            _active.set(None)
