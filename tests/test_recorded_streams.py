"""The library rebuilds every recorded Responses stream exactly: text, items, usage and status.

Each recording in tests/recordings/ is served back over loopback HTTP; the library consumes it through the
real SDK and records the turn; the recorded turn must equal the recorded `response.completed` (or
`.incomplete`/`.failed`).

The SDK's strict validation is off here on purpose: real traffic fails it. The API omits
`usage.input_tokens_details.cache_write_tokens`, which SDK 3.57 declares required, so a client that turned
strict validation on in production would reject real answers. The library runs lenient by default.
"""

from __future__ import annotations

import pytest

from assistant import Assistant, TurnFailed
from assistant.backends.response_stream import output_text, usage_of
from tests.support.recorded_server import RecordedServer, load_recording, recording_names

STREAMS = recording_names(path="/v1/responses", sse=True)
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def test_there_are_recorded_streams_to_replay():
    assert len(STREAMS) >= 30


@pytest.fixture(scope="module")
def server():
    with RecordedServer() as recorded:
        yield recorded


def final_response(recording):
    finals = [event["data"] for event in recording["response"]["sse_events"] if event["data"]["type"] in TERMINAL]
    assert len(finals) == 1, "one terminal event per recorded stream"
    return finals[0]["response"]


@pytest.mark.parametrize("name", STREAMS)
def test_library_rebuilds_recorded_stream(name, server, tmp_path):
    recording = load_recording(name)
    server.recording = recording
    server.requests.clear()
    expected = final_response(recording)
    with Assistant(
        base_url=server.base_url, api_key="sk-test-key-not-real", db_path=tmp_path / "index.db", max_retries=0
    ) as assistant:
        thread = assistant.thread(mode="chain")
        events = []
        try:
            for event in thread.stream("replay"):
                events.append(event)
        except TurnFailed:
            assert expected["status"] == "failed"
        turn = thread.history()[-1]
        tool_calls = assistant.store.tool_calls(thread.id)
        citations = assistant.store.citations(thread.id)

    assert turn.status == expected["status"]
    assert turn.response_id == expected["id"]
    assert turn.text == output_text(expected["output"])
    assert [item.data for item in turn.output_items] == expected["output"]
    assert turn.usage == usage_of(expected["usage"])
    # The streamed text deltas add up to the answer, and every finished item was announced as it finished.
    deltas = "".join(event.text for event in events if event.type == "text.delta")
    assert deltas == turn.text
    # (Not every item gets an `output_item.done`: the MCP backfill recording lists items only in the final
    # response, which is why the final list is what the index keeps.)
    done_ids = [event.item["id"] for event in events if event.type == "item.done"]
    assert set(done_ids) <= {item["id"] for item in expected["output"]}
    # What the library sent is what a chain-mode first turn should send.
    sent = [request for request in server.requests if request["method"] == "POST"][-1]
    assert sent["path"] == "/v1/responses" and sent["json"]["stream"] is True
    assert "previous_response_id" not in sent["json"] and "conversation" not in sent["json"]

    # Tool calls and citations are read out into their own tables, one row per call and per annotation.
    output = expected["output"]
    assert [(call.item_id, call.type) for call in tool_calls] == [
        (item["id"], item["type"]) for item in output if item["type"].endswith("_call")
    ]
    for call, item in zip(tool_calls, [item for item in output if item["type"].endswith("_call")], strict=False):
        if item["type"] == "code_interpreter_call":
            assert (call.code, call.container_id) == (item["code"], item["container_id"])
        if item["type"] == "file_search_call":
            assert call.queries == item["queries"]
            assert [result["score"] for result in call.results or []] == [r["score"] for r in item["results"] or []]
        if item["type"] == "web_search_call" and item["action"].get("query"):
            assert item["action"]["query"] in call.queries
    annotations = [
        annotation
        for item in output
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
        for annotation in part["annotations"]
    ]
    assert [(c.type, c.url, c.file_id, c.start_index, c.text_index) for c in citations] == [
        (a["type"], a.get("url"), a.get("file_id"), a.get("start_index"), a.get("index")) for a in annotations
    ]
