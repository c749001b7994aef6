"""The Chat Completions fallback backend, driven directly (TurnRequest in, events out) against the local server over
loopback HTTP with strict SDK validation, and compared with the Responses backend on the same prompts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from openai import AsyncOpenAI, OpenAI

from assistant.backends.backend import TurnRequest
from assistant.backends.chat import ChatBackend, chat_params
from assistant.backends.chat_stream import ChatStreamReader
from assistant.backends.responses import ResponsesBackend
from assistant.events import Event, ResponseEnded
from assistant.index.store import ThreadInfo
from assistant.server import LocalServer
from tests.server.conftest import RECORDINGS
from tests.support.fixtures import TEST_KEY

MODEL = "gpt-4.1-mini"


@dataclass
class SdkClients:
    client: OpenAI
    async_client: AsyncOpenAI


@pytest.fixture
def clients(server: LocalServer) -> Iterator[SdkClients]:
    options: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": TEST_KEY,
        "max_retries": 0,
        "_strict_response_validation": True,
    }
    with OpenAI(**options) as client:
        yield SdkClients(client, AsyncOpenAI(**options))


def thread_info(mode: str) -> ThreadInfo:
    now = datetime.now(UTC)
    return ThreadInfo(
        id="thr_test",
        title="test",
        mode=mode,
        model=MODEL,
        instructions=None,
        conversation_id=None,
        last_response_id=None,
        base_url=None,
        archived=False,
        created_at=now,
        updated_at=now,
    )


def turn(
    text: str,
    *,
    mode: str = "chat",
    history: list[dict[str, Any]] | None = None,
    instructions: str | None = None,
    **options: Any,
) -> TurnRequest:
    return TurnRequest(
        thread=thread_info(mode),
        input_text=text,
        model=MODEL,
        instructions=instructions,
        options=options,
        history=history or [],
    )


def user_item(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant_item(text: str) -> dict[str, Any]:
    # As the index records an answer: the server's output message item.
    return {
        "id": "msg_1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "phase": "final_answer",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def ended(events: list[Event]) -> ResponseEnded:
    assert events[-1].type == "response.ended"
    assert sum(event.type == "response.ended" for event in events) == 1
    return events[-1]  # type: ignore[return-value]


def comparable(item: dict[str, Any]) -> dict[str, Any]:
    """An output item without what necessarily differs between the APIs: its id, and `phase` (a Responses-only
    field that Chat Completions has no notion of)."""
    return {key: value for key, value in item.items() if key not in ("id", "phase")}


# -- the same turn through both backends -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, options",
    [
        ("hello there", {}),
        ("what are your instructions?", {}),
        ("count to 40", {"max_output_tokens": 16}),
    ],
)
def test_events_and_items_match_the_responses_backend(clients: SdkClients, text: str, options: dict[str, Any]) -> None:
    history = [user_item("my name is Ann"), assistant_item("Reference reply to: my name is Ann")]
    chat_events = list(ChatBackend(clients).stream(turn(text, history=history, instructions="Be brief.", **options)))
    # Local mode sends the whole history with store=false: the same prompt the chat backend sends.
    responses_events = list(
        ResponsesBackend(clients).stream(turn(text, mode="local", history=history, instructions="Be brief.", **options))
    )

    assert [e.type for e in chat_events] == [e.type for e in responses_events]
    assert [e.type for e in chat_events[:2]] == ["response.started", "item.added"]
    assert chat_events[0].response_id.startswith("chatcmpl-")  # type: ignore[union-attr]
    chat_text = "".join(e.text for e in chat_events if e.type == "text.delta")  # type: ignore[union-attr]
    assert chat_text == "".join(e.text for e in responses_events if e.type == "text.delta")  # type: ignore[union-attr]

    chat_added = next(e.item for e in chat_events if e.type == "item.added")  # type: ignore[union-attr]
    responses_added = next(e.item for e in responses_events if e.type == "item.added")  # type: ignore[union-attr]
    assert comparable(chat_added) == comparable(responses_added)
    chat_end, responses_end = ended(chat_events), ended(responses_events)
    assert [comparable(i) for i in chat_end.items] == [comparable(i) for i in responses_end.items]
    assert (chat_end.status, chat_end.incomplete_reason) == (responses_end.status, responses_end.incomplete_reason)
    [chat_usage] = [e for e in chat_events if e.type == "usage"]
    [responses_usage] = [e for e in responses_events if e.type == "usage"]
    assert chat_usage == responses_usage
    # Every text delta and the finished item name the same message.
    item_id = chat_end.items[0]["id"]
    assert {e.item_id for e in chat_events if e.type == "text.delta"} == {item_id}  # type: ignore[union-attr]


def test_the_instructions_reach_the_model_as_the_system_message(clients: SdkClients) -> None:
    events = list(ChatBackend(clients).stream(turn("what are your instructions?", instructions="Speak like a pirate.")))
    assert ended(events).items[0]["content"][0]["text"] == 'My instructions are: "Speak like a pirate."'


def test_history_is_rebuilt_from_the_index_items(clients: SdkClients) -> None:
    history = [
        user_item("my name is Ann"),
        {"id": "rs_1", "type": "reasoning", "summary": []},  # no Chat form: left out
        assistant_item("Hello Ann"),
        user_item("I like sailing"),
        assistant_item("Nice"),
    ]
    backend = ChatBackend(clients)
    first = ended(list(backend.stream(turn("what did I say first?", history=history))))
    assert first.status == "completed"
    assert first.items[0]["content"][0]["text"] == 'You first said: "my name is Ann"'
    count = ended(list(backend.stream(turn("how many messages?", history=history))))
    assert count.items[0]["content"][0]["text"] == "You have sent me 5 messages."


def test_function_calls_in_the_history_become_tool_messages(clients: SdkClients) -> None:
    history = [
        user_item("weather?"),
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "weather",
            "arguments": "{}",
        },
        {"id": "fco_1", "type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        assistant_item("It is sunny."),
    ]
    params = chat_params(turn("thanks", history=history, instructions="Be brief."))
    # Plain strings, "" beside tool calls: what chat templates (llama.cpp, Ollama) can concatenate.
    assert params["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "thanks"},
    ]
    assert params["stream"] is True and params["stream_options"] == {"include_usage": True}
    # The server takes that history (tool messages and all) and answers from it.
    answer = ended(list(ChatBackend(clients).stream(turn("what did I say first?", history=history))))
    assert answer.items[0]["content"][0]["text"] == 'You first said: "weather?"'


def test_usage_is_mapped_including_cached_tokens(clients: SdkClients) -> None:
    # Over 1024 prompt tokens, twice: the second request's prefix is cached (the engine's real prefix cache).
    long_history = [user_item("word " * 1200), assistant_item("ok")]
    backend = ChatBackend(clients)
    list(backend.stream(turn("first", history=long_history)))
    events = list(backend.stream(turn("second", history=long_history)))
    [usage] = [e for e in events if e.type == "usage"]
    raw = clients.client.chat.completions.create(
        **{**chat_params(turn("second", history=long_history)), "stream": False, "stream_options": None}
    )
    assert raw.usage is not None
    assert usage.input_tokens == raw.usage.prompt_tokens > 1200  # type: ignore[union-attr]
    assert usage.output_tokens == raw.usage.completion_tokens > 0  # type: ignore[union-attr]
    assert usage.cached_tokens == raw.usage.prompt_tokens_details.cached_tokens >= 1024  # type: ignore[union-attr]


def test_a_length_cut_ends_incomplete(clients: SdkClients) -> None:
    events = list(ChatBackend(clients).stream(turn("count to 100", max_output_tokens=20)))
    end = ended(events)
    assert (end.status, end.incomplete_reason) == ("incomplete", "max_output_tokens")
    assert end.items[0]["status"] == "incomplete"
    assert end.items[0]["content"][0]["text"].split() == [str(n) for n in range(1, 21)]
    [usage] = [e for e in events if e.type == "usage"]
    assert usage.output_tokens == 20  # type: ignore[union-attr]


async def collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


async def test_async_twin_gives_the_same_events(clients: SdkClients) -> None:
    history = [user_item("my name is Ann"), assistant_item("Hello Ann")]
    request = turn("what did I say first?", history=history)
    sync_events = list(ChatBackend(clients).stream(request))
    async_events = await collect(ChatBackend(clients).astream(request))
    await clients.async_client.close()
    assert [e.type for e in async_events] == [e.type for e in sync_events]
    assert [comparable(i) for i in ended(async_events).items] == [comparable(i) for i in ended(sync_events).items]
    assert ended(async_events).items[0]["content"][0]["text"] == 'You first said: "my name is Ann"'


def test_server_errors_raise_like_the_responses_backend(clients: SdkClients) -> None:
    import openai

    with pytest.raises(openai.NotFoundError) as raised:
        list(
            ChatBackend(clients).stream(
                TurnRequest(thread=thread_info("chat"), input_text="hi", model="no-such-model", instructions=None)
            )
        )
    assert raised.value.code == "model_not_found"


# -- the reader on real recorded chat streams --------------------------------------------------------------------


def recorded_chat_streams() -> list[str]:
    names = []
    for path in sorted(RECORDINGS.glob("*.json")):
        if path.name == "index.json":
            continue
        recorded = json.loads(path.read_text())
        if recorded["request"]["path"] == "/v1/chat/completions" and "sse_events" in recorded["response"]:
            names.append(path.stem)
    return names


@pytest.mark.parametrize("name", recorded_chat_streams())
def test_reader_rebuilds_recorded_chat_streams(name: str) -> None:
    events_on_wire = json.loads((RECORDINGS / f"{name}.json").read_text())["response"]["sse_events"]
    chunks = [event["data"] for event in events_on_wire if event["data"] != "[DONE]"]
    reader = ChatStreamReader()
    events: list[Event] = []
    for chunk in chunks:
        events += reader.feed(chunk)
    events += reader.ended()

    text = "".join(choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"])
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            for call in choice["delta"].get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"id": call.get("id"), "name": "", "arguments": ""})
                entry["name"] += call.get("function", {}).get("name") or ""
                entry["arguments"] += call.get("function", {}).get("arguments") or ""
    end = ended(events)
    assert end.status == "completed"
    messages = [item for item in end.items if item["type"] == "message"]
    assert "".join(m["content"][0]["text"] for m in messages) == text
    function_calls = [item for item in end.items if item["type"] == "function_call"]
    assert [(c["call_id"], c["name"], c["arguments"]) for c in function_calls] == [
        (c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())
    ]
    usage_chunks = [chunk["usage"] for chunk in chunks if chunk.get("usage")]
    [usage] = [e for e in events if e.type == "usage"]
    if usage_chunks:
        assert usage.input_tokens == usage_chunks[-1]["prompt_tokens"]  # type: ignore[union-attr]
        assert usage.output_tokens == usage_chunks[-1]["completion_tokens"]  # type: ignore[union-attr]
    assert [e.type for e in events][:1] == ["response.started"]
