"""`POST /v1/chat/completions` on the local server: the real SDK with strict validation, the official schemas, and
the chunk grammar and key sets of real recorded chat streams."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import openai
import pytest
from openai import OpenAI

from assistant.server import LocalServer
from assistant.server.engines import EngineRegistry, Finish, GenerationRequest, TextDelta, ToolCall, Usage
from tests.server.conftest import RECORDINGS, Spec, make_client, recording

MODEL = "gpt-4.1-mini"
HELLO = [{"role": "user", "content": "hello there"}]


def chunks_of(body: str) -> list[Any]:
    """SSE text -> the data of each event; checks the Chat framing: `data:` lines only, no `event:` lines."""
    data = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        assert all(line.startswith("data: ") for line in lines), f"not a data-only event: {block!r}"
        payload = "\n".join(line.removeprefix("data: ") for line in lines)
        data.append(payload if payload == "[DONE]" else json.loads(payload))
    return data


def label(chunk: Any) -> str:
    """A chunk as a label: chunk(<non-empty delta keys>[,finish_reason=…][,usage]), no-choices."""
    if chunk == "[DONE]":
        return "[DONE]"
    if not chunk["choices"]:
        return "chunk(no-choices" + (",usage)" if chunk.get("usage") else ")")
    choice = chunk["choices"][0]
    keys = sorted(k for k, v in choice["delta"].items() if v not in (None, "", []) or k == "role")
    parts = ["+".join(keys)] if keys else []
    if choice.get("finish_reason"):
        parts.append(f"finish_reason={choice['finish_reason']}")
    return "chunk(" + ",".join(parts) + ")"


def collapsed(labels: list[str]) -> list[str]:
    """Runs of one label as `label+` (the recorded grammar's notation)."""
    out: list[str] = []
    for name in labels:
        if out and out[-1].removesuffix("+") == name:
            out[-1] = name + "+"
        else:
            out.append(name + "+" if name != "[DONE]" else name)
    return out


def recorded_chunks(name: str) -> list[Any]:
    return [event["data"] for event in recording(name)["response"]["sse_events"]]


def raw_stream(http: httpx2.Client, body: dict[str, Any]) -> list[Any]:
    response = http.post("/chat/completions", json={"model": MODEL, "stream": True, **body})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"].startswith("req_")
    return chunks_of(response.text)


@pytest.fixture(scope="module")
def chat_spec(spec: Spec) -> Spec:
    """The spec, reading the chat schemas' OpenAPI 3.0 `nullable: true` as "null is allowed" (JSON Schema ignores the
    keyword; the real API sends `finish_reason`, `logprobs` and `usage` as null, recorded)."""
    own = Spec()
    _honour_nullable(own.schemas)
    return own


def _honour_nullable(node: Any) -> None:
    if isinstance(node, list):
        for child in node:
            _honour_nullable(child)
        return
    if not isinstance(node, dict):
        return
    for child in node.values():
        _honour_nullable(child)
    if node.pop("nullable", False) is True:
        inner = dict(node)
        node.clear()
        node["anyOf"] = [inner, {"type": "null"}]


# -- JSON ---------------------------------------------------------------------------------------------------------


def test_completion_validates_strictly_and_against_the_spec(
    client: OpenAI, http: httpx2.Client, chat_spec: Spec
) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=HELLO)
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Reference reply to: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )

    body = http.post("/chat/completions", json={"model": MODEL, "messages": HELLO}).json()
    chat_spec.validate("CreateChatCompletionResponse", body)
    recorded = recording("logfire__test_openai__test_sync_chat_completions_version_latest__00")["response"]["json"]
    assert set(body) == set(recorded)
    assert set(body["choices"][0]) == set(recorded["choices"][0])
    assert set(body["choices"][0]["message"]) == set(recorded["choices"][0]["message"])
    assert set(body["usage"]) == set(recorded["usage"])
    for details in ("prompt_tokens_details", "completion_tokens_details"):
        assert set(body["usage"][details]) == set(recorded["usage"][details])


def test_the_same_answer_and_usage_as_the_responses_api(client: OpenAI) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "my name is Ann"},
        {"role": "assistant", "content": "Hello Ann"},
        {"role": "user", "content": "what did I say first?"},
    ]
    chat = client.chat.completions.create(model=MODEL, messages=messages)
    response = client.responses.create(model=MODEL, instructions="Be brief.", input=messages[1:], store=False)
    assert chat.choices[0].message.content == response.output_text == 'You first said: "my name is Ann"'
    assert chat.usage is not None and response.usage is not None
    assert chat.usage.prompt_tokens == response.usage.input_tokens
    assert chat.usage.completion_tokens == response.usage.output_tokens


def test_history_carries_state(client: OpenAI) -> None:
    messages = [
        {"role": "user", "content": "I like sailing"},
        {"role": "assistant", "content": "Nice."},
        {"role": "user", "content": "how many messages?"},
    ]
    answer = client.chat.completions.create(model=MODEL, messages=messages)
    assert answer.choices[0].message.content == "You have sent me 3 messages."
    messages[-1]["content"] = "what did I say first?"
    answer = client.chat.completions.create(model=MODEL, messages=messages)
    assert answer.choices[0].message.content == 'You first said: "I like sailing"'


def test_system_message_is_the_instructions(client: OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Speak like a pirate."},
            {"role": "user", "content": "what are your instructions?"},
        ],
    )
    assert answer.choices[0].message.content == 'My instructions are: "Speak like a pirate."'


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_length_cut(client: OpenAI, limit: str) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "count to 50"}], **{limit: 5}
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "1 2 3 4 5 "
    assert completion.usage is not None and completion.usage.completion_tokens == 5


# -- SSE ----------------------------------------------------------------------------------------------------------


def test_stream_grammar_and_keys_match_the_recordings(http: httpx2.Client, chat_spec: Spec) -> None:
    chunks = raw_stream(http, {"messages": HELLO, "stream_options": {"include_usage": True}})
    recorded = recorded_chunks("pydantic-ai__test_openai__test_run_stream_sync_streams_real_model__01")
    assert (
        collapsed([label(c) for c in chunks])
        == collapsed([label(c) for c in recorded])
        == ["chunk(role)+", "chunk(content)+", "chunk(finish_reason=stop)+", "chunk(no-choices,usage)+", "[DONE]"]
    )
    for mine, theirs in zip(chunks, recorded, strict=False):
        if mine == "[DONE]":
            continue
        chat_spec.validate("CreateChatCompletionStreamResponse", mine)
        assert set(mine) == set(theirs)
        for choice, recorded_choice in zip(mine["choices"], theirs["choices"], strict=False):
            assert set(choice) == set(recorded_choice)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all(chunk["usage"] is None for chunk in chunks[:-2])
    assert len({chunk["id"] for chunk in chunks[:-1]}) == 1
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-2]) == (
        "Reference reply to: hello there"
    )


def test_without_include_usage_chunks_have_no_usage_key(http: httpx2.Client) -> None:
    chunks = raw_stream(http, {"messages": HELLO})
    recorded = recorded_chunks("logfire__test_openai__test_sync_chat_completions_stream_version_latest__00")
    assert collapsed([label(c) for c in chunks]) == collapsed([label(c) for c in recorded])
    assert [set(c) for c in chunks[:-1]] == [set(recorded[0])] * (len(chunks) - 1)


def test_include_usage_matches_the_json_usage(client: OpenAI) -> None:
    messages = [{"role": "user", "content": "repeat 12 words"}]
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert all(chunk.usage is None for chunk in chunks[:-1])
    completion = client.chat.completions.create(model=MODEL, messages=messages)
    assert completion.usage is not None
    assert (
        (last.usage.prompt_tokens, last.usage.completion_tokens)
        == (completion.usage.prompt_tokens, completion.usage.completion_tokens)
        == (3, 12)
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == completion.choices[0].message.content


def test_streamed_length_cut(http: httpx2.Client) -> None:
    chunks = raw_stream(
        http,
        {
            "messages": [{"role": "user", "content": "count to 50"}],
            "max_tokens": 4,
            "stream_options": {"include_usage": True},
        },
    )
    recorded = recorded_chunks("pydantic-ai__test_openai__test_run_stream_sync_streams_real_model__01")
    expected = [label(c) for c in recorded]
    expected = [name.replace("finish_reason=stop", "finish_reason=length") for name in expected]
    assert collapsed([label(c) for c in chunks]) == collapsed(expected)
    assert chunks[-2]["usage"]["completion_tokens"] == 4


def test_obfuscation_can_be_turned_off(http: httpx2.Client) -> None:
    with_padding = raw_stream(http, {"messages": HELLO})
    without = raw_stream(http, {"messages": HELLO, "stream_options": {"include_obfuscation": False}})
    assert all("obfuscation" in c for c in with_padding[:-1])
    assert not any("obfuscation" in c for c in without[:-1])


# -- structured outputs -------------------------------------------------------------------------------------------


CITY = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "population": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["capital", "town"]},
    },
    "required": ["city", "population", "kind"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_output_is_valid_json_for_the_schema(client: OpenAI, stream: bool) -> None:
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "which city?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY, "strict": True}},
    }
    if stream:
        text = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(**request, stream=True)
            if c.choices
        )
    else:
        text = client.chat.completions.create(**request).choices[0].message.content or ""
    document = json.loads(text)
    jsonschema.validate(document, CITY)
    assert document["city"] == "Reference reply to: which city?"


def test_json_object_output(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, response_format={"type": "json_object"}, messages=[{"role": "user", "content": "answer in JSON"}]
    )
    assert json.loads(completion.choices[0].message.content or "") == {"answer": "Reference reply to: answer in JSON"}


@pytest.mark.parametrize("stream", [False, True])
def test_a_schema_the_answer_cannot_satisfy_is_an_honest_error(client: OpenAI, stream: bool) -> None:
    digits = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[0-9]+$"}}, "required": ["code"]}
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model=MODEL,
            stream=stream,
            messages=[{"role": "user", "content": "code?"}],
            response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": digits}},
        )
    assert raised.value.param == "response_format"
    assert "cannot satisfy the schema" in raised.value.message


# -- tools --------------------------------------------------------------------------------------------------------


class ScriptedToolEngine:
    """An engine that calls the first offered function (the reference engine does not call function tools), and
    remembers what it was asked, so the route's tool plumbing can be checked both ways."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []
        self._lock = threading.Lock()

    def generate(self, request: GenerationRequest) -> Iterator[TextDelta | ToolCall | Finish]:
        with self._lock:
            self.requests.append(request)
        functions = [tool for tool in request.options.tools if tool["type"] == "function"]
        if functions and request.options.tool_choice != "none":
            yield ToolCall(kind="function", name=functions[0]["name"], arguments='{"city":"Paris"}')
            yield Finish(Usage(input_tokens=7, output_tokens=5), reason="tool_calls")
            return
        yield TextDelta("It is sunny.")
        yield Finish(Usage(input_tokens=9, output_tokens=3))


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, ScriptedToolEngine]]:
    engine = ScriptedToolEngine()
    registry = EngineRegistry()
    registry.register(engine, ["tool-model"])
    with LocalServer(db_path=tmp_path_factory.mktemp("tools") / "server.db", engines=registry) as running:
        yield running, engine


WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_function_tool_call_as_json(tool_server: tuple[LocalServer, ScriptedToolEngine], chat_spec: Spec) -> None:
    server, engine = tool_server
    with make_client(server) as client:
        completion = client.chat.completions.create(
            model="tool-model",
            tools=[WEATHER],
            tool_choice="required",
            messages=[{"role": "user", "content": "weather in Paris?"}],
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert (call.function.name, call.function.arguments) == ("weather", '{"city":"Paris"}')
    chat_spec.validate("CreateChatCompletionResponse", completion.to_dict(mode="json"))
    # The engine was offered the tool flattened, as on /v1/responses, with the tool_choice.
    offered = engine.requests[-1].options
    assert offered.tools == [
        {
            "type": "function",
            "name": "weather",
            "description": "Weather in a city.",
            "parameters": WEATHER["function"]["parameters"],
            "strict": False,
        }
    ]
    assert offered.tool_choice == "required"


def test_function_tool_call_stream_follows_the_recorded_grammar(
    tool_server: tuple[LocalServer, ScriptedToolEngine], chat_spec: Spec
) -> None:
    server, _ = tool_server
    with httpx2.Client(base_url=server.base_url) as http:
        response = http.post(
            "/chat/completions",
            json={
                "model": "tool-model",
                "stream": True,
                "stream_options": {"include_usage": True},
                "tools": [WEATHER],
                "messages": [{"role": "user", "content": "weather in Paris?"}],
            },
        )
    chunks = chunks_of(response.text)
    recorded = recorded_chunks("pydantic-ai__test_openai__test_run_stream_sync_streams_real_model__00")
    assert (
        collapsed([label(c) for c in chunks])
        == collapsed([label(c) for c in recorded])
        == [
            "chunk(role+tool_calls)+",
            "chunk(tool_calls)+",
            "chunk(finish_reason=tool_calls)+",
            "chunk(no-choices,usage)+",
            "[DONE]",
        ]
    )
    assert set(chunks[0]["choices"][0]["delta"]) == set(recorded[0]["choices"][0]["delta"])
    opening = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert set(opening) == set(recorded[0]["choices"][0]["delta"]["tool_calls"][0])
    for chunk in chunks[:-1]:
        chat_spec.validate("CreateChatCompletionStreamResponse", chunk)
    with make_client(server) as client:
        streamed = list(
            client.chat.completions.create(
                model="tool-model", stream=True, tools=[WEATHER], messages=[{"role": "user", "content": "weather?"}]
            )
        )
    assert streamed[-1].choices[0].finish_reason == "tool_calls"


def test_tool_results_go_back_to_the_engine_as_items(tool_server: tuple[LocalServer, ScriptedToolEngine]) -> None:
    server, engine = tool_server
    with make_client(server) as client:
        completion = client.chat.completions.create(
            model="tool-model",
            tools=[WEATHER],
            tool_choice="none",
            messages=[
                {"role": "user", "content": "weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
        )
    assert completion.choices[0].message.content == "It is sunny."
    items = engine.requests[-1].input_items
    assert [item["type"] for item in items] == ["message", "function_call", "function_call_output"]
    assert items[1]["call_id"] == items[2]["call_id"] == "call_1" and items[2]["output"] == "sunny"


# -- errors -------------------------------------------------------------------------------------------------------


def test_unknown_model_is_a_404_as_recorded(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="this-model-does-not-exist", messages=HELLO)
    assert raised.value.code == "model_not_found"
    assert raised.value.type == "invalid_request_error"
    assert raised.value.message == (
        "Error code: 404 - The model `this-model-does-not-exist` does not exist or you do not have access to it."
    )


@pytest.mark.parametrize(
    "body, param, status",
    [
        ({"model": MODEL, "messages": HELLO, "n": 2}, "n", 400),
        ({"model": MODEL, "messages": HELLO, "stream_options": {"include_usage": True}}, "stream_options", 400),
        ({"model": MODEL, "messages": []}, "messages", 400),
        ({"model": MODEL}, "messages", 400),
        ({"messages": HELLO}, "model", 400),
        ({"model": MODEL, "messages": HELLO, "max_tokens": 0}, "max_tokens", 400),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "messages", 400),
        ({"model": MODEL, "messages": HELLO, "response_format": {"type": "json_object"}}, "messages", 400),
        ({"model": MODEL, "messages": HELLO, "web_search_options": {}}, "web_search_options", 400),
    ],
)
def test_bad_requests_get_real_error_bodies(
    http: httpx2.Client, body: dict[str, Any], param: str, status: int, chat_spec: Spec
) -> None:
    response = http.post("/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    chat_spec.validate("ErrorResponse", error)
    assert error["error"]["param"] == param
    assert error["error"]["type"] == "invalid_request_error"


def test_invalid_json_body(http: httpx2.Client) -> None:
    response = http.post("/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]


def test_recorded_error_of_a_web_search_request_matches(http: httpx2.Client) -> None:
    recorded = recording("pydantic-ai__test_openai__test_openai_web_search_tool_model_not_supported__00")
    response = http.post("/chat/completions", json=recorded["request"]["json"] | {"model": MODEL})
    assert response.status_code == recorded["response"]["status"]
    assert response.json() == recorded["response"]["json"]


def test_every_recorded_chat_request_is_accepted_or_refused_clearly(http: httpx2.Client) -> None:
    """Real requests (images, files, tools, JSON modes, history) all get an answer the SDK can read."""
    answered = 0
    for path in sorted(Path(RECORDINGS).glob("*.json")):
        if path.name == "index.json":
            continue
        recorded = json.loads(path.read_text())
        body = recorded["request"].get("json")
        if recorded["request"]["path"] != "/v1/chat/completions" or not body:
            continue
        response = http.post("/chat/completions", json={**body, "model": MODEL})
        if response.status_code == 200:
            answered += 1
            continue
        error = response.json()["error"]
        assert response.status_code == 400 and error["message"], (path.name, error)
    assert answered >= 60
