"""The Chat Completions <-> Responses request translator (assistant/migrate.py) and `assistant migrate`.

Ground truth: every Chat Completions request recorded from the real API in tests/recordings/ must translate
into a request that validates against `CreateResponse` in the official OpenAPI spec, and translating that back
must give an equivalent Chat request (equivalence is defined by `canonical_chat` below).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant.migrate import (
    CHAT_NO_OP_VALUES,
    CHAT_ONLY,
    EMPTY_PARAMETERS,
    LOGPROBS_INCLUDE,
    MAX_NESTING,
    MigrationError,
    chat_to_responses,
    items_to_messages,
    messages_to_items,
    responses_to_chat,
)
from tests.server.conftest import RECORDINGS, Spec
from tests.support.cli import environment, run_cli


def chat_recordings() -> list[Path]:
    paths = []
    for path in sorted(RECORDINGS.glob("*.json")):
        if path.name == "index.json":
            continue
        recorded = json.loads(path.read_text())
        if recorded["request"]["path"] == "/v1/chat/completions" and recorded["request"].get("json"):
            paths.append(path)
    return paths


CHAT_RECORDINGS = chat_recordings()


@pytest.fixture(scope="module")
def request_spec() -> Spec:
    spec = Spec()
    # The spec's InputItem is a `oneOf` with `discriminator: type`, but two members overlap: a message with a list
    # of content parts is both an EasyInputMessage and an InputMessage, so plain JSON Schema `oneOf` ("exactly
    # one") rejects every such message. OpenAPI picks the member by discriminator, i.e. "at least one" here.
    input_item = spec.schemas["InputItem"]
    input_item["anyOf"] = input_item.pop("oneOf")
    return spec


def validate_closed(spec: Spec, schema: str, request: dict[str, Any]) -> None:
    """Validate, and also refuse top-level keys the schema does not declare (the spec leaves objects open, so a
    misspelt or Chat-only parameter would otherwise pass)."""
    spec.validate(schema, request)
    declared = declared_properties(spec, schema)
    assert set(request) <= declared, f"not {schema} parameters: {sorted(set(request) - declared)}"


def declared_properties(spec: Spec, name: str) -> set[str]:
    schema = spec.schemas[name]
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            names |= declared_properties(spec, part["$ref"].rsplit("/", 1)[1])
        names |= set(part.get("properties", {}))
    return names


# -- equivalence -------------------------------------------------------------------------------------------------


def canonical_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The meaning of a Chat Completions request, with every spelling the API treats alike made one.

    Two Chat requests are *equivalent* when their canonical forms are equal. The canonical form:
    - `max_tokens` becomes `max_completion_tokens` (the latter wins when both are set);
    - a leading system or developer message with string content has role "system" (both are the instructions);
    - parameters at their no-op default are removed (`n: 1`, `logprobs: false`, penalties 0, `modalities:
      ["text"]`), and so is `stream_options.include_usage` (whether usage is reported is not part of the
      request's meaning: Responses always reports it) and an empty `stream_options`;
    - an assistant message's empty text (`null`, `""`, missing) is absent; a list of text parts is their text;
      an assistant message with neither text nor tool calls is absent (real clients send such placeholders
      before a tool-call message, llm test_tool_use_basic);
    - an image part without `detail` has `detail: "auto"`; a function tool without `strict` has `strict: false`
      and without `parameters` has the empty object schema (what the API assumes);
    - legacy `functions` / `function_call` are the tools / tool_choice they stand for.
    Everything else (message order, roles, texts, ids, tool definitions, formats, settings) must be equal.
    """
    body = copy.deepcopy(body)
    if "max_tokens" in body:
        limit = body.pop("max_tokens")
        body.setdefault("max_completion_tokens", limit)
    for name, value in CHAT_NO_OP_VALUES.items():
        if body.get(name) == value:
            del body[name]
    if body.get("logprobs") is False:
        del body["logprobs"]
    options = body.get("stream_options")
    if isinstance(options, dict):
        options.pop("include_usage", None)
        if not options:
            del body["stream_options"]
    if body.get("functions"):
        body.setdefault("tools", []).extend({"type": "function", "function": f} for f in body.pop("functions"))
    if "function_call" in body:
        legacy = body.pop("function_call")
        body.setdefault("tool_choice", legacy if isinstance(legacy, str) else {"type": "function", "function": legacy})
    for tool in body.get("tools") or []:
        if tool.get("type") == "function":
            tool["function"].setdefault("parameters", EMPTY_PARAMETERS)
            tool["function"]["strict"] = bool(tool["function"].get("strict"))
    messages = body.get("messages") or []
    if messages and messages[0]["role"] in ("system", "developer") and isinstance(messages[0]["content"], str):
        messages[0]["role"] = "system"
    for message in messages:
        if message["role"] == "assistant":
            content = message.pop("content", None)
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content)
            if content:
                message["content"] = content
            if not message.get("tool_calls"):
                message.pop("tool_calls", None)
        elif isinstance(message.get("content"), list):
            for part in message["content"]:
                if part.get("type") == "image_url":
                    part["image_url"].setdefault("detail", "auto")
    body["messages"] = [m for m in messages if m["role"] != "assistant" or set(m) - {"role"}]
    return body


def without_uncarried(body: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The request minus what the translation said it could not carry (each removal must have its warning)."""
    body = copy.deepcopy(body)
    for name in CHAT_ONLY:
        if name in body and body[name] != CHAT_NO_OP_VALUES.get(name, object()):
            assert any(f"'{name}'" in w for w in warnings), f"{name} dropped without a warning"
            del body[name]
    for index, message in enumerate(body["messages"]):
        if "name" in message:
            assert any(f"messages[{index}].name" in w for w in warnings)
            del message["name"]
        if isinstance(message.get("content"), list):
            kept = []
            for number, part in enumerate(message["content"]):
                if part.get("type") == "input_audio":
                    assert any(f"messages[{index}].content[{number}] (input_audio)" in w for w in warnings)
                else:
                    kept.append(part)
            message["content"] = kept
    return body


def test_equivalence_ignores_spelling_but_not_meaning() -> None:
    base = {
        "model": "gpt-4.1",
        "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_tokens": 50,
    }
    respelled = {
        "model": "gpt-4.1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_completion_tokens": 50,
        "n": 1,
        "stream_options": {"include_usage": True},
    }
    assert canonical_chat(base) == canonical_chat(respelled)
    for change in (
        lambda b: b["messages"][1].update(content="hello"),
        lambda b: b["messages"].reverse(),
        lambda b: b.update(max_tokens=51),
        lambda b: b.update(model="gpt-4o"),
        lambda b: b.update(temperature=0.2),
    ):
        other = copy.deepcopy(base)
        change(other)
        assert canonical_chat(other) != canonical_chat(base)


# -- every recorded Chat request ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAT_RECORDINGS, ids=lambda p: p.stem)
def test_recorded_chat_request_translates_and_round_trips(path: Path, request_spec: Spec) -> None:
    chat = json.loads(path.read_text())["request"]["json"]
    forward = chat_to_responses(chat)
    validate_closed(request_spec, "CreateResponse", forward.request)

    back = responses_to_chat(forward.request)
    validate_closed(request_spec, "CreateChatCompletionRequest", back.request)
    assert canonical_chat(back.request) == canonical_chat(without_uncarried(chat, forward.warnings))


def test_the_recordings_cover_the_interesting_shapes() -> None:
    """Guard against the round-trip test passing vacuously on a thinned-out recording set."""
    seen: set[str] = set()
    for path in CHAT_RECORDINGS:
        chat = json.loads(path.read_text())["request"]["json"]
        seen |= set(chat)
        for message in chat["messages"]:
            seen.add(f"role:{message['role']}")
            if message.get("tool_calls"):
                seen.add("tool_calls")
            for part in message.get("content") if isinstance(message.get("content"), list) else []:
                seen.add(f"part:{part['type']}")
    assert {
        "tools",
        "tool_choice",
        "response_format",
        "stream_options",
        "web_search_options",
        "max_completion_tokens",
        "role:system",
        "role:tool",
        "tool_calls",
        "part:image_url",
        "part:file",
        "part:input_audio",
    } <= seen


# -- mapping rules -----------------------------------------------------------------------------------------------


def test_leading_system_message_becomes_instructions_and_later_ones_stay_items() -> None:
    result = chat_to_responses(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "hi"},
                {"role": "developer", "content": "Now answer in French."},
            ],
        }
    )
    assert result.request["instructions"] == "You are terse."
    assert result.request["input"] == [
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": "Now answer in French."},
    ]
    assert result.warnings == []


def test_system_message_with_parts_keeps_its_place_as_an_item() -> None:
    instructions, items, _ = messages_to_items([{"role": "system", "content": [{"type": "text", "text": "a"}]}])
    assert instructions is None
    assert items == [{"role": "system", "content": [{"type": "input_text", "text": "a"}]}]


@pytest.mark.parametrize("limit_key", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_become_max_output_tokens(limit_key: str) -> None:
    result = chat_to_responses({"model": "m", "messages": [], limit_key: 300})
    assert result.request["max_output_tokens"] == 300
    assert limit_key not in result.request


def test_max_completion_tokens_wins_over_max_tokens_with_a_warning() -> None:
    result = chat_to_responses({"model": "m", "messages": [], "max_tokens": 10, "max_completion_tokens": 200})
    assert result.request["max_output_tokens"] == 200
    assert any("both 'max_tokens' and 'max_completion_tokens'" in w for w in result.warnings)


def test_a_limit_below_the_responses_minimum_is_raised_and_said() -> None:
    result = chat_to_responses({"model": "m", "messages": [], "max_tokens": 5})
    assert result.request["max_output_tokens"] == 16
    assert any("raised to 16" in w for w in result.warnings)


def test_response_format_json_schema_is_flattened_and_back() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    chat = {
        "model": "m",
        "messages": [],
        "response_format": {"type": "json_schema", "json_schema": {"name": "result", "schema": schema, "strict": True}},
    }
    forward = chat_to_responses(chat)
    assert forward.request["text"] == {
        "format": {"type": "json_schema", "name": "result", "schema": schema, "strict": True}
    }
    assert responses_to_chat(forward.request).request["response_format"] == chat["response_format"]


def test_json_object_and_verbosity_go_to_text() -> None:
    result = chat_to_responses(
        {"model": "m", "messages": [], "response_format": {"type": "json_object"}, "verbosity": "low"}
    )
    assert result.request["text"] == {"format": {"type": "json_object"}, "verbosity": "low"}


def test_function_tools_are_flattened_with_an_explicit_strictness() -> None:
    chat = {
        "model": "m",
        "messages": [],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Find it.",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            },
            {"type": "function", "function": {"name": "ping"}},
            {"type": "function", "function": {"name": "exact", "parameters": EMPTY_PARAMETERS, "strict": True}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    }
    result = chat_to_responses(chat)
    assert result.request["tools"] == [
        {
            "type": "function",
            "name": "lookup",
            "description": "Find it.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            "strict": False,
        },
        {"type": "function", "name": "ping", "parameters": EMPTY_PARAMETERS, "strict": False},
        {"type": "function", "name": "exact", "parameters": EMPTY_PARAMETERS, "strict": True},
    ]
    assert result.request["tool_choice"] == {"type": "function", "name": "lookup"}
    [note] = [w for w in result.warnings if "non-strict by default" in w]
    assert "lookup, ping" in note and "exact" not in note


def test_allowed_tools_choice_is_flattened() -> None:
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "a"}}]},
    }
    forward = chat_to_responses({"model": "m", "messages": [], "tool_choice": choice})
    assert forward.request["tool_choice"] == {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "a"}],
    }
    assert responses_to_chat(forward.request).request["tool_choice"] == choice


def test_tool_calls_and_tool_messages_become_items_and_back() -> None:
    messages = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
    ]
    _, items, warnings = messages_to_items(messages)
    assert items == [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "rain"}]},
    ]
    assert warnings == []
    back, _ = items_to_messages(items)
    assert back == messages


def test_user_content_parts_map_to_input_parts() -> None:
    _, items, warnings = messages_to_items(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/b.png", "detail": "high"}},
                    {"type": "file", "file": {"file_id": "file-1"}},
                    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA"}},
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                ],
            }
        ]
    )
    assert items[0]["content"] == [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.com/b.png", "detail": "high"},
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA"},
    ]
    assert len(warnings) == 1 and "input_audio" in warnings[0] and "transcribe" in warnings[0]


def test_logprobs_become_an_include_and_back() -> None:
    forward = chat_to_responses({"model": "m", "messages": [], "logprobs": True, "top_logprobs": 3})
    assert forward.request["include"] == [LOGPROBS_INCLUDE]
    assert forward.request["top_logprobs"] == 3
    back = responses_to_chat(forward.request).request
    assert back["logprobs"] is True and back["top_logprobs"] == 3


def test_include_usage_is_explained_and_obfuscation_carried() -> None:
    forward = chat_to_responses(
        {
            "model": "m",
            "messages": [],
            "stream": True,
            "stream_options": {"include_usage": True, "include_obfuscation": False},
        }
    )
    assert forward.request["stream_options"] == {"include_obfuscation": False}
    assert any("include_usage" in w and "response.completed" in w for w in forward.warnings)
    back = responses_to_chat(forward.request).request
    assert back["stream_options"] == {"include_usage": True, "include_obfuscation": False}


def test_web_search_options_become_a_web_search_tool_and_back() -> None:
    options = {
        "search_context_size": "low",
        "user_location": {"type": "approximate", "approximate": {"city": "Utrecht", "country": "NL"}},
    }
    forward = chat_to_responses({"model": "gpt-4o-search-preview", "messages": [], "web_search_options": options})
    assert forward.request["tools"] == [
        {
            "type": "web_search",
            "search_context_size": "low",
            "user_location": {"type": "approximate", "city": "Utrecht", "country": "NL"},
        }
    ]
    back = responses_to_chat(forward.request)
    assert back.request["web_search_options"] == options
    assert any("search model" in w for w in back.warnings)


def test_reasoning_effort_goes_to_reasoning() -> None:
    forward = chat_to_responses({"model": "o3-mini", "messages": [], "reasoning_effort": "high"})
    assert forward.request["reasoning"] == {"effort": "high"}
    assert responses_to_chat(forward.request).request["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    "name, value",
    [
        ("n", 3),
        ("logit_bias", {"50256": -100}),
        ("presence_penalty", 0.5),
        ("frequency_penalty", 0.5),
        ("seed", 42),
        ("stop", ["\n"]),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("modalities", ["text", "audio"]),
        ("prediction", {"type": "content", "content": "x"}),
    ],
)
def test_parameters_responses_cannot_carry_are_dropped_with_advice(name: str, value: Any, request_spec: Spec) -> None:
    result = chat_to_responses({"model": "m", "messages": [{"role": "user", "content": "x"}], name: value})
    assert name not in result.request
    [warning] = [w for w in result.warnings if f"'{name}'" in w]
    assert "cannot be carried" in warning and CHAT_ONLY[name] in warning
    # The spec agrees: CreateResponse has no such parameter.
    assert name not in declared_properties(request_spec, "CreateResponse")


@pytest.mark.parametrize(
    "name, value",
    [("n", 1), ("presence_penalty", 0), ("frequency_penalty", 0), ("modalities", ["text"]), ("logprobs", False)],
)
def test_no_op_defaults_are_dropped_quietly(name: str, value: Any) -> None:
    result = chat_to_responses({"model": "m", "messages": [], name: value})
    assert name not in result.request and result.warnings == []


def test_legacy_functions_become_tools_with_synthesized_call_ids() -> None:
    result = chat_to_responses(
        {
            "model": "m",
            "functions": [{"name": "f", "parameters": EMPTY_PARAMETERS}],
            "function_call": {"name": "f"},
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
                {"role": "function", "name": "f", "content": "done"},
            ],
        }
    )
    assert result.request["tools"] == [
        {"type": "function", "name": "f", "parameters": EMPTY_PARAMETERS, "strict": False}
    ]
    assert result.request["tool_choice"] == {"type": "function", "name": "f"}
    call, output = result.request["input"][1:]
    assert call == {"type": "function_call", "call_id": "call_legacy_1", "name": "f", "arguments": "{}"}
    assert output == {"type": "function_call_output", "call_id": "call_legacy_1", "output": "done"}
    assert sum("legacy" in w for w in result.warnings) >= 3


def test_message_names_and_unknown_parameters_are_reported() -> None:
    result = chat_to_responses(
        {"model": "m", "messages": [{"role": "user", "name": "ann", "content": "x"}], "frobnicate": 1}
    )
    assert result.request["input"] == [{"role": "user", "content": "x"}]
    assert any("messages[0].name" in w for w in result.warnings)
    assert any("'frobnicate'" in w for w in result.warnings)


@pytest.mark.parametrize(
    "body, message",
    [
        ([], "must be a JSON object"),
        ({"model": "m"}, "'messages' array"),
        ({"model": "m", "messages": ["hi"]}, "messages[0] must be an object"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "not a Chat Completions role"),
    ],
)
def test_malformed_chat_requests_raise(body: Any, message: str) -> None:
    with pytest.raises(MigrationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        chat_to_responses(body)


# -- Responses -> Chat -------------------------------------------------------------------------------------------


def test_responses_request_to_chat(request_spec: Spec) -> None:
    responses_request = {
        "model": "gpt-4.1-mini",
        "instructions": "Be brief.",
        "stream": True,
        "max_output_tokens": 64,
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}],
            },
            {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_9", "output": "42"},
        ],
        "tools": [
            {"type": "function", "name": "f", "parameters": EMPTY_PARAMETERS, "strict": True},
            {"type": "code_interpreter", "container": {"type": "auto"}},
        ],
        "previous_response_id": "resp_1",
    }
    result = responses_to_chat(responses_request)
    validate_closed(request_spec, "CreateChatCompletionRequest", result.request)
    assert result.request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": "Hello!",
            "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "42"},
    ]
    assert result.request["max_completion_tokens"] == 64
    assert result.request["stream_options"] == {"include_usage": True}
    assert result.request["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": EMPTY_PARAMETERS, "strict": True}}
    ]
    assert any("'code_interpreter'" in w for w in result.warnings)
    assert any("'previous_response_id'" in w and "whole history" in w for w in result.warnings)


def test_a_bare_string_input_is_one_user_message() -> None:
    assert responses_to_chat({"model": "m", "input": "hello"}).request["messages"] == [
        {"role": "user", "content": "hello"}
    ]


# -- the CLI -----------------------------------------------------------------------------------------------------


def run_migrate(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("migrate", *args, env=environment(), input=stdin)


def test_cli_translates_a_file(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text(
        json.dumps(
            {
                "model": "gpt-4.1",
                "n": 2,
                "max_tokens": 100,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            }
        )
    )
    done = run_migrate(str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "model": "gpt-4.1",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": "hi"}],
        "max_output_tokens": 100,
    }
    assert "'n' cannot be carried" in done.stderr


def test_cli_reverse_from_stdin() -> None:
    done = run_migrate("-", "--reverse", stdin=json.dumps({"model": "m", "input": "hello", "max_output_tokens": 20}))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "model": "m",
        "messages": [{"role": "user", "content": "hello"}],
        "max_completion_tokens": 20,
    }
    assert done.stderr == ""


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"model": "m"}', "'messages' array"),
    ],
)
def test_cli_rejects_bad_input_with_one_line(text: str, message: str) -> None:
    done = run_migrate("-", stdin=text)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


@pytest.mark.parametrize(
    "depth, message",
    [
        (100_000, "too deeply to read"),  # past what Python's JSON reader can nest
        (150, "more than 100 levels deep"),  # readable, but translating copies it recursively
    ],
)
def test_cli_refuses_json_nested_too_deep_with_one_line(depth: int, message: str) -> None:
    body = (
        '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "metadata": ' + "[" * depth + "]" * depth + "}"
    )
    for reverse in ([], ["--reverse"]):
        done = run_migrate("-", *reverse, stdin=body)
        assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_a_request_as_deep_as_the_limit_translates() -> None:
    metadata: Any = {}
    for _ in range(MAX_NESTING - 2):  # the body, then the metadata object, then these
        metadata = {"a": metadata}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "metadata": metadata}
    assert chat_to_responses(body).request["metadata"] == metadata
    with pytest.raises(MigrationError, match="levels deep"):
        responses_to_chat({"model": "m", "input": "hi", "metadata": {"a": metadata}})


def test_cli_missing_file() -> None:
    done = run_migrate("/nonexistent/chat.json")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "cannot read" in done.stderr
