"""Malformed requests the route fuzzer (tests/fuzz/test_routes_schemathesis.py) found answered with a 500 or with
an object the spec does not allow: each is a 400 with the parameter named, or a well-formed object."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from assistant.server.engines.tool_rules import answer_from_tools
from tests.server.conftest import recording


def error_of(response: httpx2.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def conversation_with(http: httpx2.Client, *items: dict[str, Any]) -> httpx2.Response:
    return http.post("/conversations", json={"items": list(items)})


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": [None, None], "call_id": "c", "output": "x"}, "items[0].type"),  # was: unhashable type: 'list'
        ({"type": "program_output", "id": {}, "call_id": "c", "result": ""}, "items[0].id"),  # was: sqlite binding
        ({"type": "function_call_output", "output": "x"}, "items[0].call_id"),  # nothing to pair it with
        ({"type": "function_call", "call_id": "c", "name": 3, "arguments": "{}"}, "items[0].name"),
        ({"type": "function_call_output", "call_id": "c", "output": 7}, "items[0].output"),
        # These were listed back as sent, in a message the spec does not allow:
        ({"type": "message", "role": "assistant", "content": [{"type": "refusal"}]}, "items[0].content[0].refusal"),
        (
            {"type": "message", "role": "assistant", "content": [{"type": "AAA", "refusal": ""}]},
            "items[0].content[0].type",
        ),
        ({"type": "message", "role": "assistant", "content": [], "phase": "AAA"}, "items[0].phase"),
        ({"type": "message", "role": "user", "content": "hi", "status": "AAA"}, "items[0].status"),
        (
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "", "logprobs": {}}]},
            "items[0].content[0].logprobs",
        ),
    ],
)
def test_malformed_items_are_400s(http: httpx2.Client, item: dict[str, Any], param: str) -> None:
    assert error_of(conversation_with(http, item))["param"] == param


def test_an_item_sent_with_a_null_status_is_listed_with_one(http: httpx2.Client) -> None:
    created = conversation_with(http, {"type": "shell_call_output", "call_id": "c", "output": [], "status": None})
    assert created.status_code == 200, created.text
    listed = http.get(f"/conversations/{created.json()['id']}/items").json()["data"]
    assert listed[0]["status"] == "completed"


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({"x": {}}, "metadata.x"),  # was echoed back: the SDK types metadata as a map of strings
        ({"x": "v" * 513}, "metadata.x"),
        ({"k" * 65: "v"}, "metadata"),
    ],
)
def test_metadata_values_must_be_short_strings(http: httpx2.Client, metadata: dict, param: str) -> None:
    assert error_of(http.post("/conversations", json={"metadata": metadata}))["param"] == param
    assert error_of(http.post("/vector_stores", json={"metadata": metadata}))["param"] == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "c", "memory_limit": [None, None]}, "memory_limit"),  # was: unhashable type: 'list'
        ({"name": "c", "file_ids": [{}]}, "file_ids"),  # was: sqlite binding a dict
    ],
)
def test_malformed_container_requests_are_400s(http: httpx2.Client, body: dict, param: str) -> None:
    assert error_of(http.post("/containers", json=body))["param"] == param


def test_vector_store_expiry_is_checked_and_stored_as_the_api_shows_it(http: httpx2.Client) -> None:
    assert (
        error_of(http.post("/vector_stores", json={"expires_after": {"anchor": "last_active_at"}}))["param"]
        == "expires_after.days"
    )
    assert (
        error_of(http.post("/vector_stores", json={"expires_after": {"anchor": "last_active_at", "days": 0}}))["code"]
        == "integer_below_min_value"
    )
    assert error_of(http.post("/vector_stores", json={"name": ["x"]}))["param"] == "name"
    store = http.post("/vector_stores", json={"name": "kept"}).json()
    updated = http.post(
        f"/vector_stores/{store['id']}",
        json={"name": None, "expires_after": {"anchor": "last_active_at", "days": 2, "extra": None}},
    ).json()
    assert updated["name"] == "kept"  # null is "no change"
    assert updated["expires_after"] == {"anchor": "last_active_at", "days": 2}  # no stray keys echoed


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": "q", "ranking_options": {"score_threshold": [None]}}, "ranking_options.score_threshold"),
        ({"query": "q", "ranking_options": {"score_threshold": 2}}, "ranking_options.score_threshold"),
        ({"query": "q", "filters": {"type": "or", "filters": [None]}}, "filters.filters[0]"),  # was: AttributeError
        ({"query": "q", "filters": {"type": "eq", "key": ["k"], "value": 1}}, "filters.key"),
        (
            {"query": "q", "filters": {"type": "and", "filters": [{"type": "near", "key": "k", "value": 1}]}},
            "filters.filters[0].type",
        ),
    ],
)
def test_malformed_vector_store_searches_are_400s(http: httpx2.Client, body: dict, param: str) -> None:
    store = http.post("/vector_stores", json={"name": "search"}).json()
    assert error_of(http.post(f"/vector_stores/{store['id']}/search", json=body))["param"] == param


def test_file_search_tool_options_are_checked_before_the_response_starts(http: httpx2.Client) -> None:
    store = http.post("/vector_stores", json={"name": "tool"}).json()
    tool = {"type": "file_search", "vector_store_ids": [store["id"]], "ranking_options": {"score_threshold": "high"}}
    response = http.post("/responses", json={"model": "gpt-4.1-mini", "input": "find it", "tools": [tool]})
    assert error_of(response)["param"] == "tools[0].ranking_options.score_threshold"


def test_vector_store_file_attributes_follow_the_spec_limits(http: httpx2.Client) -> None:
    file_id = http.post("/files", files={"file": ("a.txt", b"some text")}, data={"purpose": "assistants"}).json()["id"]
    store = http.post("/vector_stores", json={"name": "attrs"}).json()
    attached = http.post(
        f"/vector_stores/{store['id']}/files", json={"file_id": file_id, "attributes": {"note": "T" * 513}}
    )
    assert error_of(attached)["param"] == "attributes.note"


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant", "content": [{"type": "text", "text": 15306}]},  # was: TypeError in the translation
        {"role": "assistant", "content": 12},
        {"role": "assistant", "content": "hi", "refusal": 3},
        # were: AttributeError in the translation, found by the schemathesis fuzz
        {"role": "assistant", "content": None, "function_call": "get_weather"},
        {"role": "assistant", "content": None, "tool_calls": "call_1"},
        {"role": "assistant", "content": None, "tool_calls": ["call_1"]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": "f"}]},
    ],
)
def test_malformed_chat_history_is_a_400(http: httpx2.Client, message: dict) -> None:
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hello"}, message]}
    assert error_of(http.post("/chat/completions", json=body))["param"] == "messages"


def test_stream_options_of_the_wrong_type_are_refused_before_the_response_starts(http: httpx2.Client) -> None:
    # Was: a 500, from run() reading `stream_options` after the response had started.
    body = {"model": "gpt-4.1-mini", "input": "hello", "stream_options": [None, None]}
    assert error_of(http.post("/responses", json=body))["param"] == "stream_options"


# -- replayed tool calls (an earlier response's output items sent back as input) -----------------------------------

CODE_CALL = {
    "type": "code_interpreter_call",
    "id": "ci_1",
    "status": "completed",
    "container_id": "cntr_1",
    "code": "print(1)",
    "outputs": None,
}


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({**CODE_CALL, "outputs": [None, None]}, "input[0].outputs[0]"),  # was: AttributeError in the engine, a 500
        ({**CODE_CALL, "outputs": [{"type": "logs", "logs": 7}]}, "input[0].outputs[0].logs"),
        ({k: v for k, v in CODE_CALL.items() if k != "container_id"}, "input[0].container_id"),
        ({"type": "web_search_call", "id": "ws_1", "status": "completed"}, "input[0].action"),
        (
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": 3}},
            "input[0].action.query",
        ),
        ({"type": "web_search_call", "id": "ws_1", "status": "done", "action": {"type": "search"}}, "input[0].status"),
        ({"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": "q"}, "input[0].queries"),
        (
            {
                "type": "file_search_call",
                "id": "fs_1",
                "status": "completed",
                "queries": ["q"],
                "results": [{"file_id": 1, "text": "t"}],
            },
            "input[0].results[0].file_id",
        ),
    ],
)
def test_malformed_replayed_tool_calls_are_400s(http: httpx2.Client, item: dict, param: str) -> None:
    body = {"model": "gpt-4.1-mini", "input": [item]}
    error = error_of(http.post("/responses", json=body))
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("pydantic-ai__test_openai_responses__test_openai_responses_model_web_search_tool__01", 2),
        ("pydantic-ai__test_openai_responses__test_openai_responses_code_execution_return_image__01", 2),
        ("logfire__test_openai_agents__test_file_search__01", 1),
    ],
)
def test_recorded_replays_of_tool_calls_are_accepted(http: httpx2.Client, name: str, index: int) -> None:
    replayed = recording(name)["request"]["json"]["input"][index]
    body = {"model": "gpt-4.1-mini", "input": [{"role": "user", "content": "what did you find?"}, replayed]}
    response = http.post("/responses", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"


def test_the_engine_skips_malformed_tool_results() -> None:
    # The rules also read results the server did not make: outputs of hosted tools a Chat client runs itself.
    question = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "well?"}]}
    results = [
        {"type": "code_interpreter_call", "outputs": [None, {"type": "logs", "logs": "1"}], "files": [{"path": 3}]},
        {"type": "web_search_call", "action": "search", "results": [None, {"url": "https://a.example", "title": 2}]},
        {"type": "file_search_call", "results": [{"file_id": 1}, {"file_id": "f", "text": "Found.", "filename": 0}]},
    ]
    text = "".join(segment.text for segment in answer_from_tools([question, *results]))
    assert "The code printed:\n1" in text and "https://a.example" in text and '"Found."' in text


def test_a_chat_clients_malformed_tool_output_is_answered(http: httpx2.Client) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "web_search", "arguments": '{"query": "q"}'}}
    body = {
        "model": "gpt-4.1-mini",
        "tools": [{"type": "function", "function": {"name": "web_search"}}],
        "messages": [
            {"role": "user", "content": "search the web"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"results": [1, {"url": 2}]}'},
        ],
    }
    response = http.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text


def test_function_calls_are_listed_without_the_nulls_they_were_sent_with(http: httpx2.Client) -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "caller": None, "namespace": None}
    output = {"type": "function_call_output", "call_id": "c", "output": "ok", "name": None, "caller": None}
    created = conversation_with(http, call, output)
    assert created.status_code == 200, created.text
    listed = http.get(f"/conversations/{created.json()['id']}/items", params={"order": "asc"}).json()["data"]
    assert [sorted(item) for item in listed] == [
        ["arguments", "call_id", "id", "name", "status", "type"],
        ["call_id", "id", "output", "status", "type"],
    ]


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "status": "AAA"}, "items[0].status"),
        (
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "caller": {"type": "robot"}},
            "items[0].caller.type",
        ),
        ({"type": "function_call_output", "call_id": "c", "output": "ok", "namespace": 5}, "items[0].namespace"),
    ],
)
def test_function_call_fields_the_list_repeats_are_checked(http: httpx2.Client, item: dict, param: str) -> None:
    assert error_of(conversation_with(http, item))["param"] == param


@pytest.mark.parametrize(
    ("setting", "param"),
    [
        # Each was echoed into the response object as sent (or, for `temperature`, crashed float()):
        ({"reasoning": {"generate_summary": "AAA"}}, "reasoning.generate_summary"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"truncation": "AAA"}, "truncation"),
        ({"service_tier": 3}, "service_tier"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_logprobs": 21}, "top_logprobs"),
        ({"text": {"verbosity": "loud"}}, "text.verbosity"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": {"type": "custom"}}, "tool_choice.name"),
        ({"tool_choice": {"type": "mcp", "server_label": "s", "name": {}}}, "tool_choice.name"),
        ({"tool_choice": {"type": {}, "server_label": "s"}}, "tool_choice.type"),  # was: unhashable, a 500
        ({"tool_choice": {"type": "allowed_tools", "mode": "always", "tools": []}}, "tool_choice.mode"),
    ],
)
def test_settings_the_response_echoes_are_checked(http: httpx2.Client, setting: dict, param: str) -> None:
    response = http.post("/responses", json={"model": "gpt-4.1-mini", "input": "hi", **setting})
    assert error_of(response)["param"] == param


def test_reasoning_settings_sent_as_null_are_not_echoed(http: httpx2.Client) -> None:
    body = {"model": "gpt-4.1-mini", "input": "hi", "reasoning": {"mode": None, "context": None, "effort": None}}
    assert http.post("/responses", json=body).json()["reasoning"] == {"effort": None, "summary": None}
