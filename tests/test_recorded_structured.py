"""The client reads every recorded structured-output response (tests/recordings/, non-streamed: json_schema
and json_object on /v1/responses and /v1/chat/completions) as data: the answer is found, parsed, and validates
against the schema the request sent."""

from __future__ import annotations

import pytest

from assistant import StructuredAnswerError
from assistant.migrate import chat_to_responses
from assistant.structured import answer_schema, parse_answer, schema_problem
from tests.support.recorded_server import load_recording, recording_names


def _asks_for_json(name: str) -> bool:
    request = load_recording(name)["request"]["json"] or {}
    fmt = (request.get("text") or {}).get("format") or request.get("response_format") or {}
    return fmt.get("type") in ("json_schema", "json_object")


NAMES = [
    name
    for path in ("/v1/responses", "/v1/chat/completions")
    for name in recording_names(path=path, sse=False)
    if _asks_for_json(name)
]


def test_there_are_recorded_structured_outputs():
    assert len(NAMES) >= 15


def output_items(recording):
    body = recording["response"]["json"]
    if body.get("object") == "chat.completion":
        message = body["choices"][0]["message"]
        parts = [{"type": "output_text", "text": message["content"]}] if message.get("content") else []
        if message.get("refusal"):
            parts.append({"type": "refusal", "refusal": message["refusal"]})
        calls = [
            {
                "type": "function_call",
                "call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
            }
            for call in message.get("tool_calls") or []
        ]
        return ([{"type": "message", "role": "assistant", "content": parts}] if parts else []) + calls
    return body["output"]


@pytest.mark.parametrize("name", NAMES)
def test_recorded_structured_answer_is_parsed(name):
    recording = load_recording(name)
    request = recording["request"]["json"]
    if "messages" in request:  # the Chat request as the library would have sent it on Responses
        request = chat_to_responses(request).request
    fmt = request["text"]["format"]
    schema = answer_schema(fmt if fmt["type"] == "json_schema" else {"type": "json_object"})
    items = output_items(recording)
    if not any(item["type"] == "message" for item in items):
        # A round that ended in function calls (pydantic-ai's first request): no answer yet. The thread runs
        # the calls before it parses; asked to parse now, it says there is nothing to parse.
        assert any(item["type"] == "function_call" for item in items)
        with pytest.raises(StructuredAnswerError, match="no answer"):
            parse_answer(items, schema)
        return
    value = parse_answer(items, schema)
    if fmt["type"] == "json_schema":
        assert schema_problem(value, fmt["schema"]) is None
    else:
        assert isinstance(value, (dict, list))
