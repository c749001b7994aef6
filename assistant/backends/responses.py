"""The native backend: one `responses.create(stream=True)` per turn, state kept on the server.

- conversation mode: the first turn creates a conversation (metadata names the thread); every turn sends only
  the new input with `conversation=conv_…`.
- chain mode: only the new input with `previous_response_id` = the thread's last response.
- local mode: the whole history from the index plus the new input, with `store=false`, so the server keeps
  nothing (zero data retention); reasoning items travel encrypted (`reasoning.encrypted_content`).
Instructions are sent every turn: the server never carries them over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from openai import AsyncOpenAI, OpenAI

from assistant.backends.base import TurnRequest
from assistant.backends.response_stream import ResponseStreamReader
from assistant.events import ConversationCreated, Event, ResponseEnded


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

    def stream(self, request: TurnRequest) -> Iterator[Event]:
        client = self.clients.client
        conversation_id = request.thread.conversation_id
        if request.thread.mode == "conversation" and conversation_id is None:
            conversation_id = client.conversations.create(metadata=conversation_metadata(request)).id
            yield ConversationCreated(conversation_id=conversation_id)
        reader = ResponseStreamReader()
        with client.responses.create(**create_params(request, conversation_id)) as events:
            for event in events:
                yield from reader.feed(event)
        yield ended(reader)

    async def astream(self, request: TurnRequest) -> AsyncIterator[Event]:
        client = self.clients.async_client
        conversation_id = request.thread.conversation_id
        if request.thread.mode == "conversation" and conversation_id is None:
            conversation = await client.conversations.create(metadata=conversation_metadata(request))
            conversation_id = conversation.id
            yield ConversationCreated(conversation_id=conversation_id)
        reader = ResponseStreamReader()
        async with await client.responses.create(**create_params(request, conversation_id)) as events:
            async for event in events:
                for normalized in reader.feed(event):
                    yield normalized
        yield ended(reader)


def conversation_metadata(request: TurnRequest) -> dict[str, str]:
    # Metadata values are limited to 512 characters; the title is only a label.
    return {"thread_id": request.thread.id, "title": request.thread.title[:512]}


def create_params(request: TurnRequest, conversation_id: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"model": request.model, "input": request.input_text, "stream": True}
    if request.instructions:
        params["instructions"] = request.instructions
    mode = request.thread.mode
    if mode == "conversation":
        params["conversation"] = conversation_id
    elif mode == "chain" and request.thread.last_response_id:
        params["previous_response_id"] = request.thread.last_response_id
    elif mode == "local":
        # Output items go back as they came (id, status, encrypted reasoning): the API takes them as input,
        # and replaying them whole, not flattened to text, lets the model see what it saw before.
        params["input"] = [*request.history, request.input_item]
        params["store"] = False
        params["include"] = ["reasoning.encrypted_content"]
    params.update({key: value for key, value in request.options.items() if value is not None})
    return params


def ended(reader: ResponseStreamReader) -> ResponseEnded:
    if reader.status is None:
        # The body ended without a terminal event: whatever arrived is all there is.
        return ResponseEnded(
            status="failed" if reader.error else "incomplete",
            items=reader.finished_items,
            error=reader.error or "the stream ended before the response finished",
            incomplete_reason=None if reader.error else "stream_interrupted",
        )
    return ResponseEnded(status=reader.status, items=reader.items, error=reader.error,
                         incomplete_reason=reader.incomplete_reason)

