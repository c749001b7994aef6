"""Malformed chunks the Chat stream fuzzer (tests/fuzz/test_chat_stream_consumer.py) found breaking the Chat reader:
a lenient SDK passes them through as they came, and the reader must neither crash on them nor trust them."""

from __future__ import annotations

from typing import Any

import pytest

from assistant import Assistant
from assistant.backends.chat_stream import ChatStreamReader
from assistant.events import ItemAdded, ResponseEnded, Usage
from tests.fuzz.raw_stream_server import RawStreamServer, sse_frame
from tests.support.recorded_server import load_recording

TOOL_USE = "llm__test_tools__test_tool_use_basic__00"


def chunk(**choice: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, **choice}]}


def test_a_chunk_that_is_not_an_object_is_skipped():
    reader = ChatStreamReader()
    assert reader.feed(None) == []  # was: MalformedEvent out of as_dict (`data: null`)
    assert reader.feed(42) == []
    assert reader.response_id is None


@pytest.mark.parametrize(
    "data",
    [
        {"id": "chatcmpl-1", "choices": "abc"},  # was: AttributeError on str.get
        {"id": "chatcmpl-1", "choices": [None, 3]},
        chunk(delta="hello"),
        chunk(delta={"content": 15}),  # was: TypeError adding an int to the text
        chunk(delta={"refusal": ["no"]}),
        chunk(delta={"tool_calls": {"index": 0}}),
    ],
)
def test_choices_and_deltas_of_the_wrong_shape_are_skipped(data):
    reader = ChatStreamReader()
    reader.feed(data)
    assert reader.text == "" and reader.items == []


def test_tool_call_pieces_without_a_usable_index_are_skipped():
    reader = ChatStreamReader()
    call = {"id": "call_1", "function": {"name": "f", "arguments": "{"}}
    assert reader.feed(chunk(delta={"tool_calls": [{**call, "index": [0]}]}))[1:] == []  # was: unhashable list
    events = reader.feed(chunk(delta={"tool_calls": [{**call, "index": 0, "id": 7, "function": "f"}]}))
    assert [type(event) for event in events] == [ItemAdded]  # was: AttributeError on int.removeprefix
    reader.feed(chunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": {"a": 1}}}]}))
    assert reader.items[0]["call_id"] == "" and reader.items[0]["arguments"] == ""


@pytest.mark.parametrize("finish_reason", [["stop"], 7, {"reason": "stop"}, ""])
def test_a_finish_reason_that_is_not_text_does_not_end_the_answer(finish_reason):
    reader = ChatStreamReader()
    reader.feed(chunk(delta={"content": "hi"}))
    reader.feed(chunk(delta={}, finish_reason=finish_reason))  # a list was: unhashable in the endings table
    ended = reader.ended()[-1]
    assert isinstance(ended, ResponseEnded) and ended.status == "incomplete"


def test_a_chunk_id_that_is_not_text_reads_as_absent():
    reader = ChatStreamReader()
    reader.feed({"id": ["chatcmpl-1"], "model": 3, "choices": []})
    reader.feed(chunk(delta={"content": "hi"}))  # was: AttributeError on list.removeprefix
    assert reader.response_id == "" and reader.text == "hi"


@pytest.mark.parametrize(
    "usage",
    [
        "abc",
        {"prompt_tokens": "7", "completion_tokens": None, "prompt_tokens_details": []},
        {"prompt_tokens": -3, "completion_tokens_details": {"reasoning_tokens": [1]}},
    ],
)
def test_usage_of_the_wrong_shape_reads_as_zero(usage):
    reader = ChatStreamReader()
    reader.feed({"id": "chatcmpl-1", "choices": [], "usage": usage})
    assert reader.usage in (None, Usage())  # was: strings and lists summed into the turn's usage, a TypeError


def test_a_stream_with_a_malformed_usage_chunk_is_recorded_through_the_index(tmp_path):
    """Through the SDK, the chat backend and the index: a string token count once escaped as a TypeError."""
    events = [dict(event) for event in load_recording(TOOL_USE)["response"]["sse_events"]]
    usage_index = next(
        i for i, event in enumerate(events) if isinstance(event["data"], dict) and event["data"].get("usage")
    )
    usage_chunk = events[usage_index]["data"]
    events[usage_index] = {**events[usage_index], "data": {**usage_chunk, "usage": {"prompt_tokens": "54"}}}
    with (
        RawStreamServer() as server,
        Assistant(base_url=server.base_url, api_key="sk-fuzz", max_retries=0, db_path=tmp_path / "index.db") as library,
    ):
        server.body = b"".join(sse_frame(event) for event in events)
        thread = library.thread(mode="chat")
        for _event in thread.stream("multiply"):
            pass
        assert thread.history()[-1].status == "completed"
