"""Every /v1/responses route through the real SDK with strict validation, JSON and SSE, sync and async."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from assistant.server import EngineRegistry, LocalServer
from assistant.server.engines import Finish, GenerationRequest, TextDelta, Usage

from .conftest import make_client


def test_create_json(client: OpenAI) -> None:
    response = client.responses.create(model="gpt-4.1-mini", input="hello there")
    assert response.status == "completed"
    assert response.id.startswith("resp_") and len(response.id) > 40
    assert response.output_text == "Reference reply to: hello there"
    assert response.output[0].id.startswith("msg_")
    assert response.usage is not None
    assert response.usage.input_tokens == 2
    assert response.usage.output_tokens == 6
    assert response.usage.total_tokens == 8
    assert response.usage.input_tokens_details.cache_write_tokens == 0
    assert response._request_id is not None and response._request_id.startswith("req_")


def test_create_stream(client: OpenAI) -> None:
    events = list(client.responses.create(model="reference", input="count to 4", stream=True))
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "1 2 3 4"
    assert len(deltas) == 4
    assert [event.sequence_number for event in events] == list(range(len(events)))


def test_stream_helper_and_final_response(client: OpenAI) -> None:
    with client.responses.stream(model="gpt-5-mini", input="hi") as stream:
        text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text == "Reference reply to: hi"
    assert final.status == "completed"


def test_retrieve_and_replay(client: OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="count to 3")
    assert client.responses.retrieve(created.id) == created
    replayed = list(client.responses.retrieve(created.id, stream=True))
    assert replayed[0].type == "response.created"
    assert replayed[-1].type == "response.completed"
    assert [e.sequence_number for e in replayed] == list(range(len(replayed)))
    after = list(client.responses.retrieve(created.id, stream=True, starting_after=3))
    assert [e.sequence_number for e in after] == list(range(4, len(replayed)))


def test_resume_with_stream_helper(client: OpenAI) -> None:
    # Resuming is for background responses (the real API answers 404 for foreground ones).
    created = client.responses.create(model="gpt-4o", input="count to 5", stream=True, background=True)
    first = [event for _, event in zip(range(5), created, strict=False)]
    created.close()
    response_id = first[0].response.id
    with client.responses.stream(response_id=response_id, starting_after=4) as resumed:
        events = list(resumed)
        final = resumed.get_final_response()
    assert events[0].sequence_number == 5
    assert final.output_text == "1 2 3 4 5"


def test_retrieve_with_include_query(client: OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="x")
    got = client.responses.retrieve(created.id, include=["message.output_text.logprobs", "reasoning.encrypted_content"])
    assert got.id == created.id


def test_delete(client: OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="x")
    assert client.responses.delete(created.id) is None
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(created.id)
    assert missing.value.message == f"Error code: 404 - Response with id '{created.id}' not found."
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError) as chained:
        client.responses.create(model="gpt-4o", input="y", previous_response_id=created.id)
    assert chained.value.code == "previous_response_not_found"


def test_input_items_pagination(client: OpenAI) -> None:
    items = [{"role": "user", "content": f"message {i}"} for i in range(5)]
    created = client.responses.create(model="gpt-4o", input=items)
    first_page = client.responses.input_items.list(created.id, limit=2)
    assert len(first_page.data) == 2 and first_page.has_more
    texts_desc = [item.content[0].text for item in first_page.data]
    assert texts_desc == ["message 4", "message 3"]  # default order is desc
    everything = list(client.responses.input_items.list(created.id, limit=2, order="asc"))
    assert [item.content[0].text for item in everything] == [f"message {i}" for i in range(5)]
    assert all(item.id.startswith("msg_") for item in everything)
    with pytest.raises(openai.BadRequestError) as too_big:
        client.responses.input_items.list(created.id, limit=101)
    assert too_big.value.param == "limit"


def test_cancel_rejects_foreground_responses(client: OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="x")
    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.cancel(created.id)
    assert rejected.value.message.endswith("Cannot cancel a synchronous response.")
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_missing")


def test_background_response_is_queued_then_completes(client: OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="count to 3", background=True)
    assert created.status == "queued" and created.background is True
    deadline = time.monotonic() + 5
    polled = client.responses.retrieve(created.id)
    while polled.status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.01)
        polled = client.responses.retrieve(created.id)
    assert polled.status == "completed"
    assert polled.output_text == "1 2 3"
    assert client.responses.cancel(created.id).status == "completed"  # finished: cancel changes nothing


def test_background_stream_opens_like_the_recording(client: OpenAI) -> None:
    events = list(client.responses.create(model="gpt-4o", input="hi", background=True, stream=True))
    assert [e.type for e in events[:3]] == ["response.created", "response.queued", "response.in_progress"]
    assert events[0].response.status == "queued"
    assert events[-1].type == "response.completed"


class SlowEngine:
    """Streams one word every 20 ms, so a background response is still running when the test cancels it."""

    def generate(self, request: GenerationRequest) -> Iterator[TextDelta | Finish]:
        for index in range(250):
            time.sleep(0.02)
            yield TextDelta(f"w{index} ")
        yield Finish(Usage(input_tokens=1, output_tokens=250))


def test_cancel_a_running_background_response(tmp_path) -> None:
    registry = EngineRegistry()
    registry.register(SlowEngine(), ["slow"])
    with LocalServer(tmp_path / "db.sqlite", engines=registry) as server, make_client(server) as client:
        created = client.responses.create(model="slow", input="x", background=True)
        time.sleep(0.05)
        cancelled = client.responses.cancel(created.id)
        assert cancelled.status == "cancelled"
        assert client.responses.retrieve(created.id).status == "cancelled"


async def test_async_client_json_and_stream(aclient: AsyncOpenAI) -> None:
    response = await aclient.responses.create(model="gpt-4.1-nano", input="hello")
    assert response.output_text == "Reference reply to: hello"
    stream = await aclient.responses.create(model="gpt-4.1-nano", input="count to 3", stream=True)
    types = [event.type async for event in stream]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    async with aclient.responses.stream(model="gpt-4.1-nano", input="what did I say first?") as helper:
        async for _ in helper:
            pass
        final = await helper.get_final_response()
    assert final.output_text == 'You first said: "what did I say first?"'
    retrieved = await aclient.responses.retrieve(final.id)
    assert retrieved.output_text == final.output_text
