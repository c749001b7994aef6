"""The Chat Completions fallback backend: one `chat.completions.create(stream=True)` per turn, state on the client.

Every turn sends the whole conversation as messages, rebuilt from the thread's history as the index recorded
it (Responses-shaped items): the instructions as the system message, user and assistant messages, function
calls and their outputs as `tool_calls` / `tool` messages; reasoning items have no Chat form and are left out.
The rebuilding is `assistant.migrate` (the same mapping `assistant migrate --reverse` prints), applied to the
Responses request this turn would have been. Usage is asked for with `stream_options.include_usage`.

The events are the Responses backend's (see chat_stream.py), so the thread, the index and `compare` never
branch on the backend.

Tools: hosted tools (web search, file search, code interpreter) are not offered yet. They will be offered here
as function tools (`_tool_definitions`) and run locally by the tool runtimes in a bounded loop: when a turn
ends with finish_reason "tool_calls", run the calls, append the call and output items, and ask again. Until
then a turn that ends in function calls ends like a Responses turn does: completed, with the calls as items.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from assistant.backends.base import TurnRequest
from assistant.backends.chat_stream import ChatStreamReader
from assistant.backends.responses import Clients
from assistant.events import Event
from assistant.migrate import responses_to_chat

logger = logging.getLogger(__name__)


class ChatBackend:
    name = "chat"

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def stream(self, request: TurnRequest) -> Iterator[Event]:
        reader = ChatStreamReader()
        with self.clients.client.chat.completions.create(**chat_params(request)) as chunks:
            for chunk in chunks:
                yield from reader.feed(chunk)
        yield from reader.ended()

    async def astream(self, request: TurnRequest) -> AsyncIterator[Event]:
        reader = ChatStreamReader()
        async with await self.clients.async_client.chat.completions.create(**chat_params(request)) as chunks:
            async for chunk in chunks:
                for event in reader.feed(chunk):
                    yield event
        for event in reader.ended():
            yield event


def chat_params(request: TurnRequest) -> dict[str, Any]:
    """The `chat.completions.create` arguments for one turn: the Responses request the turn stands for, translated."""
    responses_request: dict[str, Any] = {
        "model": request.model,
        "input": [*request.history, request.input_item],
        "stream": True,
    }
    if request.instructions:
        responses_request["instructions"] = request.instructions
    responses_request.update({key: value for key, value in request.options.items() if value is not None})
    tools = _tool_definitions(request)
    if tools:
        responses_request["tools"] = tools
    translation = responses_to_chat(responses_request)
    for warning in translation.warnings:
        logger.info("chat backend, thread %s: %s", request.thread.id, warning)
    return translation.request


def _tool_definitions(request: TurnRequest) -> list[dict[str, Any]]:
    """Function tools offered to the model this turn. None yet: see the module docstring."""
    return []
