"""Counts the bytes of every request body a turn sends, as it goes on the wire.

The SDK client is built with an httpx2 request hook; the hook adds the body size to whatever meter is active in
the current context (a turn sets its own while it runs, and reads it when it closes). Retries are counted: they
were sent. The meter is the turn's, not the recorder's: the turn loop passes its count to the recorder at close.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx2


@dataclass
class RequestMeter:
    """The bytes of request bodies sent so far by whoever set this meter active."""

    request_bytes: int = 0


_active: ContextVar[RequestMeter | None] = ContextVar("assistant_request_meter", default=None)


def _count(request: httpx2.Request) -> None:
    meter = _active.get()
    if meter is None:
        return
    try:
        meter.request_bytes += len(request.content)
    except httpx2.RequestNotRead:  # a streamed upload: its size is in the header
        meter.request_bytes += int(request.headers.get("content-length", 0))


def count_request(request: httpx2.Request) -> None:
    _count(request)


async def count_request_async(request: httpx2.Request) -> None:
    _count(request)


@contextmanager
def metering(meter: RequestMeter) -> Iterator[None]:
    token = _active.set(meter)
    try:
        yield
    finally:
        try:
            _active.reset(token)
        except ValueError:  # closed from another context (a generator finalized elsewhere)
            _active.set(None)
