"""Malformed events the stream fuzzer (tests/fuzz/test_stream_consumer.py) found breaking the reader: a lenient SDK
passes them through as they came, and the reader must neither crash on them nor trust them."""

from __future__ import annotations

import contextlib

import pytest

from assistant import Assistant, TurnFailed
from assistant.backends.response_stream import ResponseStreamReader
from assistant.backends.responses import ended
from assistant.events import Usage
from tests.fuzz.raw_stream_server import RawStreamServer, sse_frame
from tests.support.recorded_server import load_recording

BASIC = "llm__test_openai_responses__test_responses_basic_streaming__00"


def test_a_terminal_event_without_its_response_is_not_a_completion():
    reader = ResponseStreamReader()
    reader.feed({"type": "response.created", "response": {"id": "resp_1", "model": "m"}})
    assert reader.feed({"type": "response.completed"}) == []  # was: AttributeError on None.to_dict
    assert reader.feed({"type": "response.completed", "response": 42}) == []
    assert ended(reader).status == "incomplete"


@pytest.mark.parametrize(
    "field",
    [
        {"usage": "abc"},
        {"usage": {"input_tokens": "7", "input_tokens_details": []}},
        {"error": "boom", "status": "failed"},
        {"incomplete_details": 3},
        {"id": ["resp_1"]},
        {"model": True},
        {"output": "not a list"},
        {"output": [1, None]},
    ],
)
def test_wrong_fields_in_the_final_response_read_as_absent(field):
    for kind in ("response.failed", "response.incomplete", "response.completed"):
        reader = ResponseStreamReader()
        reader.feed({"type": kind, "response": {"id": "resp_1", "model": "m", **field}})
        assert reader.response_id is None or isinstance(reader.response_id, str)
        assert isinstance(reader.usage, Usage) and isinstance(reader.usage.input_tokens, int)
        assert reader.error is None or isinstance(reader.error, str)
        assert reader.incomplete_reason is None or isinstance(reader.incomplete_reason, str)
        assert all(isinstance(item, dict) for item in reader.items)


def test_deltas_and_items_without_text_or_index_are_skipped():
    reader = ResponseStreamReader()
    assert reader.feed({"type": "response.output_text.delta", "delta": None}) == []
    assert reader.feed({"type": "response.output_item.added", "item": {"id": "x"}, "output_index": "0"}) == []
    assert reader.feed({"type": "response.output_item.done", "item": None, "output_index": 0}) == []
    assert reader.feed({"type": "error", "message": False, "code": []}) == []
    assert reader.error == "the stream reported an error"
    assert reader.feed({"type": None}) == []
    assert reader.text == "" and reader.items == []


def test_a_stream_whose_completion_lost_its_usage_is_recorded_without_a_crash(tmp_path):
    """Through the SDK and the index: `usage` of the wrong type once escaped as a TypeError."""
    events = [dict(event) for event in load_recording(BASIC)["response"]["sse_events"]]
    final = events[-1]["data"]
    events[-1] = {**events[-1], "data": {**final, "response": {**final["response"], "usage": "abc", "id": [1]}}}
    with (
        RawStreamServer() as server,
        Assistant(base_url=server.base_url, api_key="sk-fuzz", max_retries=0, db_path=tmp_path / "index.db") as library,
    ):
        server.body = b"".join(sse_frame(event) for event in events)
        thread = library.thread(mode="chain")
        turn = thread.ask("hello")
    assert turn.status == "completed" and turn.usage == Usage()
    assert turn.response_id == final["response"]["id"]  # from response.created, which was intact


def test_a_stream_cut_inside_its_completion_is_not_recorded_completed(tmp_path):
    body = b"".join(sse_frame(event) for event in load_recording(BASIC)["response"]["sse_events"])
    with (
        RawStreamServer() as server,
        Assistant(base_url=server.base_url, api_key="sk-fuzz", max_retries=0, db_path=tmp_path / "index.db") as library,
    ):
        server.body = body[:-20]
        thread = library.thread(mode="chain")
        with contextlib.suppress(TurnFailed):
            thread.ask("hello")
        assert thread.history()[-1].status != "completed"
