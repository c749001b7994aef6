"""The real API's rules on tool calls (assistant/server/tool_call_rules.py): the strict server (the default) refuses
what api.openai.com refuses, with its status, message, `param` and `code`; a lenient server accepts it.

The error bodies are the real API's as quoted in public issue threads (no recording in tests/recordings/ holds
one): openai-agents-python #673 and #1303, continuedev/continue #10092, dapr/dapr-agents #248, and the
Chat Completions messages quoted in smarter-sh/smarter #264 and aliasrobotics/cai #111.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response

from assistant.server import LocalServer
from tests.server.conftest import make_client

MODEL = "gpt-4.1-mini"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CHAT_WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": WEATHER["parameters"]},
}


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    """The error body of a call that must be a 400."""
    with pytest.raises(openai.BadRequestError) as raised:
        call()
    assert raised.value.status_code == 400
    body = raised.value.body
    assert isinstance(body, dict)
    return body


def error(message: str, param: str, code: str | None = None) -> dict[str, Any]:
    return {"message": message, "type": "invalid_request_error", "param": param, "code": code}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def function_call(call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": '{"city": "Paris"}'}


def function_output(call_id: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": "sunny"}


def forced_call(client: OpenAI, **state: Any) -> Any:
    """A response that ends with a function call the client has not answered yet."""
    response = client.responses.create(
        model=MODEL,
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        **state,
    )
    assert response.output[-1].type == "function_call"
    return response


# -- Responses --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_an_output_with_no_call_is_refused(client: OpenAI, stream: bool) -> None:
    body = refused(
        lambda: client.responses.create(
            model=MODEL, input=[user("hi"), function_output("call_nowhere")], tools=[WEATHER], stream=stream
        )
    )
    assert body == error("No tool call found for function call output with call_id call_nowhere.", "input")


def test_an_unanswered_call_followed_by_a_user_message_is_refused(client: OpenAI) -> None:
    body = refused(
        lambda: client.responses.create(
            model=MODEL, input=[user("weather?"), function_call("call_open"), user("never mind")], tools=[WEATHER]
        )
    )
    assert body == error("No tool output found for function call call_open.", "input")


def test_a_call_at_the_end_of_the_input_may_wait_for_its_output(client: OpenAI) -> None:
    response = client.responses.create(model=MODEL, input=[user("weather?"), function_call("call_last")])
    assert response.status == "completed"


def test_a_previous_response_left_with_an_unanswered_call_is_refused(client: OpenAI) -> None:
    first = forced_call(client)
    call_id = first.output[-1].call_id
    body = refused(
        lambda: client.responses.create(
            model=MODEL, input="Never mind, tell me a joke.", previous_response_id=first.id, tools=[WEATHER]
        )
    )
    assert body == error(f"No tool output found for function call {call_id}.", "input")
    answered = client.responses.create(
        model=MODEL, input=[function_output(call_id)], previous_response_id=first.id, tools=[WEATHER]
    )
    assert answered.status == "completed"


def test_a_conversation_left_with_an_unanswered_call_is_refused(client: OpenAI) -> None:
    conversation = client.conversations.create()
    first = forced_call(client, conversation=conversation.id)
    call_id = first.output[-1].call_id
    body = refused(
        lambda: client.responses.create(model=MODEL, input="Never mind.", conversation=conversation.id, tools=[WEATHER])
    )
    assert body == error(f"No tool output found for function call {call_id}.", "input")
    # The output finds its call among the conversation's items.
    answered = client.responses.create(
        model=MODEL, input=[function_output(call_id)], conversation=conversation.id, tools=[WEATHER]
    )
    assert answered.status == "completed"


def test_an_output_must_match_a_call_of_the_chain(client: OpenAI) -> None:
    first = forced_call(client)
    body = refused(
        lambda: client.responses.create(
            model=MODEL, input=[function_output("call_other")], previous_response_id=first.id, tools=[WEATHER]
        )
    )
    assert body == error("No tool call found for function call output with call_id call_other.", "input")


def test_tool_choice_naming_a_function_not_in_tools_is_refused(client: OpenAI) -> None:
    body = refused(
        lambda: client.responses.create(
            model=MODEL, input="hi", tools=[WEATHER], tool_choice={"type": "function", "name": "get_time"}
        )
    )
    assert body == error("Tool choice 'function' not found in 'tools' parameter.", "tool_choice")
    no_tools = refused(
        lambda: client.responses.create(model=MODEL, input="hi", tool_choice={"type": "function", "name": "get_time"})
    )
    assert no_tools == body


def test_tool_choice_required_without_tools_is_refused(client: OpenAI) -> None:
    body = refused(lambda: client.responses.create(model=MODEL, input="hi", tool_choice="required"))
    assert body == error("Tool choice 'required' must be specified with 'tools' parameter.", "tool_choice")


def test_tool_choice_web_search_stays_accepted(tools_client: OpenAI) -> None:
    # openai-agents sends it and the real API accepts it and echoes it (issue #15; openai-php/client #665): no
    # stricter than the real API. The SDK's own ToolChoiceTypes lags like the spec, so its strict parse would
    # refuse the real API's echo as well: the body is read raw, and everything else in it validated strictly.
    for choice in ({"type": "web_search"}, {"type": "web_search_2025_08_26"}):
        raw = tools_client.responses.with_raw_response.create(
            model=MODEL,
            input="What is new in Python?",
            tools=[{"type": "web_search"}],
            tool_choice=choice,  # type: ignore[arg-type]  # the SDK's types follow the spec, which lags
        )
        body = raw.http_response.json()
        assert body["tool_choice"] == choice
        response = Response.model_validate({**body, "tool_choice": "auto"})
        assert response.status == "completed"
        assert response.output[0].type == "web_search_call"


# -- Chat Completions ---------------------------------------------------------------------------------------------


def test_chat_tool_choice_without_tools_is_refused(client: OpenAI) -> None:
    body = refused(lambda: client.chat.completions.create(model=MODEL, messages=[user("hi")], tool_choice="auto"))
    assert body == error(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"
    )


def test_chat_tool_message_without_tool_calls_is_refused(client: OpenAI) -> None:
    messages: list[Any] = [user("hi"), {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    body = refused(lambda: client.chat.completions.create(model=MODEL, messages=messages, tools=[CHAT_WEATHER]))
    assert body == error(
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
        "messages.[1].role",
    )


def chat_tool_calls(*call_ids: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            for call_id in call_ids
        ],
    }


def test_chat_tool_calls_not_followed_by_their_tool_messages_are_refused(client: OpenAI) -> None:
    messages: list[Any] = [
        user("weather in Paris and Rome?"),
        chat_tool_calls("call_a", "call_b"),
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        user("and?"),
    ]
    body = refused(lambda: client.chat.completions.create(model=MODEL, messages=messages, tools=[CHAT_WEATHER]))
    assert body == error(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        "'tool_call_id'. The following tool_call_ids did not have response messages: call_b",
        "messages.[1].role",
    )


def test_chat_tool_calls_answered_in_order_are_accepted(client: OpenAI) -> None:
    messages: list[Any] = [
        user("weather in Paris and Rome?"),
        chat_tool_calls("call_a", "call_b"),
        {"role": "tool", "tool_call_id": "call_b", "content": "rain"},
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    ]
    completion = client.chat.completions.create(model=MODEL, messages=messages, tools=[CHAT_WEATHER])
    assert completion.choices[0].finish_reason == "stop"


# -- --lenient ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lenient_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    path: Path = tmp_path_factory.mktemp("lenient") / "server.db"
    with LocalServer(db_path=path, strict=False) as server, make_client(server) as sdk:
        yield sdk


def test_a_lenient_server_accepts_what_the_real_api_refuses(lenient_client: OpenAI) -> None:
    client = lenient_client
    assert client.responses.create(model=MODEL, input=[user("hi"), function_output("call_nowhere")]).status
    assert client.responses.create(model=MODEL, input=[function_call("call_open"), user("never mind")]).status
    first = forced_call(client)
    assert client.responses.create(model=MODEL, input="Never mind.", previous_response_id=first.id).status
    assert client.responses.create(model=MODEL, input="hi", tool_choice="required").status
    assert client.responses.create(
        model=MODEL, input="hi", tools=[WEATHER], tool_choice={"type": "function", "name": "get_time"}
    ).status
    assert client.chat.completions.create(model=MODEL, messages=[user("hi")], tool_choice="auto").choices
    tool_first: list[Any] = [user("hi"), {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    assert client.chat.completions.create(model=MODEL, messages=tool_first, tools=[CHAT_WEATHER]).choices
    unanswered: list[Any] = [user("hi"), chat_tool_calls("call_a"), user("and?")]
    assert client.chat.completions.create(model=MODEL, messages=unanswered, tools=[CHAT_WEATHER]).choices
