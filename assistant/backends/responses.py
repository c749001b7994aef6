"""The native backend: one `responses.create(stream=True)` per turn, state kept on the server.

- conversation mode: the first turn creates a conversation (metadata names the thread); every turn sends only
  the new input with `conversation=conv_…`.
- chain mode: only the new input with `previous_response_id` = the thread's last response.
- local mode: the whole history from the index plus the new input, with `store=false`, so the server keeps
  nothing (zero data retention); reasoning items travel encrypted (`reasoning.encrypted_content`).
Instructions are sent every turn: the server never carries them over.

Server state is a cache of the index. When a thread has history but no server state (it switched modes, was
forked, or the server lost its conversation or response), the request carries `request.history` and the state
is rebuilt from it: a new conversation seeded with the history, or a chain head sent with the whole history.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Generator
from typing import Any, Protocol, cast

import openai
from openai import AsyncOpenAI, OpenAI, omit
from openai.types.responses import ResponseInputItemParam

from assistant.backends.backend import TurnRequest, with_open_calls_answered
from assistant.backends.response_stream import ResponseStreamReader
from assistant.events import Event, ResponseEnded
from assistant.index.records import ThreadInfo


class Clients(Protocol):
    """Where a backend gets its SDK clients (the Assistant builds each on first use)."""

    @property
    def client(self) -> OpenAI: ...

    @property
    def async_client(self) -> AsyncOpenAI: ...


class ResponsesBackend:
    name = "responses"

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def stream(self, request: TurnRequest) -> Generator[Event, None, None]:
        """The response's events. In conversation mode the thread's conversation must exist: the turn loop
        creates it first (`create_conversation`), since which one the thread keeps is the index's to say."""
        reader = ResponseStreamReader()
        with self.clients.client.responses.create(**create_params(request)) as events:
            for event in events:
                yield from reader.feed(event)
        yield ended(reader)

    async def astream(self, request: TurnRequest) -> AsyncGenerator[Event, None]:
        reader = ResponseStreamReader()
        async with await self.clients.async_client.responses.create(**create_params(request)) as events:
            async for event in events:
                for normalized in reader.feed(event):
                    yield normalized
        yield ended(reader)

    # a new conversation for a thread that has none (its first turn in conversation mode, or lost state)

    def create_conversation(self, request: TurnRequest) -> str:
        return seed_conversation(self.clients.client, request.thread, request.history)

    async def acreate_conversation(self, request: TurnRequest) -> str:
        client = self.clients.async_client
        first, rest = seed_batches(request.history)
        conversation = await client.conversations.create(metadata=conversation_metadata(request.thread), items=first)
        for batch in rest:
            await client.conversations.items.create(conversation.id, items=batch)
        return conversation.id

    def discard_conversation(self, conversation_id: str) -> None:
        discard_conversation(self.clients.client, conversation_id)

    async def adiscard_conversation(self, conversation_id: str) -> None:
        with contextlib.suppress(openai.OpenAIError):  # see discard_conversation
            await self.clients.async_client.conversations.delete(conversation_id)


# The API takes at most 20 items per conversations.create / items.create call.
SEED_BATCH = 20


def seed_batches(history: list[dict[str, Any]]) -> tuple[Any, list[list[ResponseInputItemParam]]]:
    """History split for seeding a conversation: the first batch (omitted when empty, as the SDK expects) and
    the rest in batches of at most 20."""
    # The index holds items as the API gave them (wire JSON); the SDK sends such dicts as they are.
    items = cast("list[ResponseInputItemParam]", with_open_calls_answered(history))
    batches = [items[start : start + SEED_BATCH] for start in range(0, len(items), SEED_BATCH)]
    return (batches[0] if batches else omit), batches[1:]


def seed_conversation(client: OpenAI, thread: ThreadInfo, history: list[dict[str, Any]]) -> str:
    """Create a conversation for `thread` holding `history`; returns its id."""
    first, rest = seed_batches(history)
    conversation_id = client.conversations.create(metadata=conversation_metadata(thread), items=first).id
    for batch in rest:
        client.conversations.items.create(conversation_id, items=batch)
    return conversation_id


def discard_conversation(client: OpenAI, conversation_id: str) -> None:
    """Delete a conversation another process's claim made redundant (it holds only the seeded history); one
    left behind costs nothing but a listing entry, so a failure is not the turn's."""
    with contextlib.suppress(openai.OpenAIError):
        client.conversations.delete(conversation_id)


def conversation_metadata(thread: ThreadInfo) -> dict[str, str]:
    # Metadata values are limited to 512 characters; the title is only a label.
    return {"thread_id": thread.id, "title": thread.title[:512]}


def create_params(request: TurnRequest) -> dict[str, Any]:
    params: dict[str, Any] = {"model": request.model, "input": request.input_text, "stream": True}
    if request.instructions:
        params["instructions"] = request.instructions
    mode = request.thread.mode
    if mode == "conversation":
        params["conversation"] = request.thread.conversation_id
        if request.continuing:  # the conversation already holds the message and the calls: send the outputs
            params["input"] = request.new_items
    elif mode == "chain" and request.thread.last_response_id:
        params["previous_response_id"] = request.thread.last_response_id
        if request.continuing:  # the head is the response that asked for the calls
            params["input"] = request.new_items
    elif request.history or request.continuing:
        # Local mode, or a chain whose head must be rebuilt (this response becomes it). Output items go back
        # as they came (id, status, encrypted reasoning): the API takes them as input, and replaying them whole,
        # not flattened to text, lets the model see what it saw before.
        params["input"] = [*request.history, request.input_item, *request.turn_items]
    include = list(request.include)
    if mode == "local":
        params["store"] = False
        include.append("reasoning.encrypted_content")
    if request.tools or request.functions:
        params["tools"] = [*request.tools, *request.functions]
    if request.text_format is not None:
        params["text"] = {"format": request.text_format}
    if include:
        params["include"] = include
    params.update({key: value for key, value in request.options.items() if value is not None})
    return params


def ended(reader: ResponseStreamReader) -> ResponseEnded:
    if reader.status is None and reader.response_id is None and reader.error is None:
        # Not a single event: what answered is not an OpenAI event stream (a proxy's page, a wrong base URL).
        return ResponseEnded(
            status="failed",
            items=[],
            error="the server answered the request for an event "
            "stream without a single event: it is not an OpenAI-compatible Responses API",
        )
    if reader.status is None:
        # The body ended without a terminal event: whatever arrived is all there is.
        return ResponseEnded(
            status="failed" if reader.error else "incomplete",
            items=reader.finished_items,
            error=reader.error or "the stream ended before the response finished",
            incomplete_reason=None if reader.error else "stream_interrupted",
        )
    return ResponseEnded(
        status=reader.status, items=reader.items, error=reader.error, incomplete_reason=reader.incomplete_reason
    )
