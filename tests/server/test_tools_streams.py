"""Hosted-tool streams against ground truth: the recorded event grammar of each tool, the recorded key sets of
its events and items, and the official schemas of every event and final Response."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from openai import OpenAI

from assistant.server import LocalServer

from .conftest import API_KEY, Spec, parse_sse, recording
from .tools_server import DOCUMENTS, vector_store_with

WEB_RECORDING = "pydantic-ai__test_openai_responses__test_openai_include_raw_annotations_streaming__01"
FILE_RECORDING = "pydantic-ai__test_openai_responses__test_openai_responses_model_file_search_tool_stream__03"
CODE_RECORDING = "pydantic-ai__test_openai_responses__test_openai_responses_code_execution_return_image_stream__00"
OPTIONAL_EVENT_KEYS = {"obfuscation"}
TOOL_ITEMS = ("web_search_call", "file_search_call", "code_interpreter_call")


@pytest.fixture
def raw(tool_server: LocalServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=tool_server.base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as client:
        yield client


def stream(raw: httpx2.Client, **body: Any) -> list[dict[str, Any]]:
    response = raw.post("/responses", json={"model": "gpt-4.1-mini", "stream": True, **body})
    assert response.status_code == 200, response.text
    return [event["data"] for event in parse_sse(response.text)]


def grammar(events: list[dict[str, Any]]) -> list[str]:
    """Event types as the recorded-traffic notation reads them: item types in brackets, reasoning items (which
    the local engine does not produce) dropped, delta runs as one, and repeated `delta+ > annotation` blocks
    (one per citation) as one."""
    names: list[str] = []
    for event in events:
        name = event["type"]
        item_type = (event.get("item") or {}).get("type")
        if item_type == "reasoning":
            continue
        if item_type:
            name += f"({item_type})"
        if "annotation" in event:
            name += f"({event['annotation']['type']})"
        if names and name == names[-1] and (name.endswith(".delta") or ".annotation." in name):
            continue
        names.append(name)
    collapsed: list[str] = []
    for name in names:
        if (
            len(collapsed) >= 3
            and ".annotation." in name
            and collapsed[-2:] == [name, collapsed[-1]]
            and collapsed[-1].endswith(".delta")
        ):
            collapsed.pop()  # "... delta > annotation > delta > annotation" reads as one block
            continue
        collapsed.append(name)
    return collapsed


def check_against_recording(ours: list[dict[str, Any]], name: str) -> None:
    recorded = [event["data"] for event in recording(name)["response"]["sse_events"]]
    assert grammar(ours) == grammar(recorded)
    recorded_keys = {event["type"]: set(event) for event in recorded}
    for event in ours:
        assert set(event) - OPTIONAL_EVENT_KEYS == recorded_keys[event["type"]] - OPTIONAL_EVENT_KEYS, event["type"]
        item = event.get("item")
        if item and item["type"] in TOOL_ITEMS:
            twin = next(
                e["item"]
                for e in recorded
                if e["type"] == event["type"] and e.get("item", {}).get("type") == item["type"]
            )
            extra = {"action"} if item["type"] == "web_search_call" and event["type"].endswith(".added") else set()
            assert set(item) == set(twin) | extra, (event["type"], item["type"])
        if "annotation" in event:
            twin = next(e["annotation"] for e in recorded if "annotation" in e)
            assert set(event["annotation"]) == set(twin)


def validate_all(events: list[dict[str, Any]], spec: Spec) -> None:
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    for event in events:
        spec.validate_event(event)
    spec.validate("Response", events[-1]["response"])


def test_web_search_stream_follows_the_recording(raw: httpx2.Client, spec: Spec) -> None:
    events = stream(
        raw,
        input="search the latest on asyncio TaskGroup",
        tools=[{"type": "web_search"}],
        include=["web_search_call.action.sources"],
    )
    check_against_recording(events, WEB_RECORDING)
    validate_all(events, spec)
    done = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert done["action"]["sources"][0] == {"type": "url", "url": "https://docs.python.org/3/library/asyncio-task.html"}
    assert events[-1]["response"]["tool_usage"]["web_search"] == {"num_requests": 1}


def test_file_search_stream_follows_the_recording(raw: httpx2.Client, tools_client: OpenAI, spec: Spec) -> None:
    store_id, _ = vector_store_with(tools_client, {"paris.txt": DOCUMENTS["paris.txt"]})
    events = stream(
        raw,
        input="What is the capital of France?",
        instructions="You are a helpful assistant.",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
    )
    check_against_recording(events, FILE_RECORDING)
    validate_all(events, spec)
    done = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert done["results"] is None and done["queries"] == ["What is the capital of France?"]


def test_code_interpreter_stream_follows_the_recording(raw: httpx2.Client, spec: Spec) -> None:
    events = stream(
        raw,
        input="Create a chart of y=x^2 for x=-5 to 5",
        tool_choice="required",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=["code_interpreter_call.outputs"],
    )
    check_against_recording(events, CODE_RECORDING)
    validate_all(events, spec)
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.code_interpreter_call_code.delta")
    code_done = next(e for e in events if e["type"] == "response.code_interpreter_call_code.done")
    assert deltas == code_done["code"] and "plot.png" in deltas
    item = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert [output["type"] for output in item["outputs"]] == ["image", "logs"]  # recorded order
    assert item["outputs"][0]["url"].startswith("data:image/png;base64,")


def test_hidden_results_stay_hidden_without_include(raw: httpx2.Client) -> None:
    events = stream(
        raw, input="```python\nprint('hi')\n```", tools=[{"type": "code_interpreter", "container": {"type": "auto"}}]
    )
    item = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert item["outputs"] is None and item["code"] == "print('hi')\n"
    web = stream(raw, input="search pathlib glob", tools=[{"type": "web_search"}])
    assert next(e["item"] for e in web if e["type"] == "response.output_item.done")["action"] == {
        "type": "search",
        "query": "search pathlib glob",
    }


def test_json_responses_and_replays_validate(raw: httpx2.Client, tools_client: OpenAI, spec: Spec) -> None:
    store_id, _ = vector_store_with(tools_client, DOCUMENTS)
    for body in (
        {
            "input": "Who has the Eiffel Tower?",
            "tools": [{"type": "file_search", "vector_store_ids": [store_id]}],
            "include": ["file_search_call.results"],
        },
        {"input": "What is 2**10?", "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]},
        {"input": "search pathlib", "tools": [{"type": "web_search_preview"}]},
    ):
        response = raw.post("/responses", json={"model": "gpt-4.1-mini", **body})
        assert response.status_code == 200, response.text
        spec.validate("Response", response.json())
        replay = [
            e["data"] for e in parse_sse(raw.get(f"/responses/{response.json()['id']}", params={"stream": "true"}).text)
        ]
        validate_all(replay, spec)
        assert replay[-1]["response"]["output"] == response.json()["output"]


def test_the_sdk_stream_helper_rebuilds_tool_responses(tools_client: OpenAI) -> None:
    store_id, ids = vector_store_with(tools_client, DOCUMENTS)
    with tools_client.responses.stream(
        model="gpt-4.1-mini",
        input="What is the capital of Germany?",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
    ) as events:
        kinds = [event.type for event in events]
        final = events.get_final_response()
    assert "response.output_text.annotation.added" in kinds
    annotations = final.output[1].content[0].annotations  # type: ignore[union-attr]
    assert annotations[0].file_id == ids["berlin.md"]  # type: ignore[union-attr]
