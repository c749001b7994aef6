"""What the Chat fallback sends, and what it does when a Chat server falls short, against the local server behind a
real proxy (tests/support/misbehaving_provider.py) that keeps every request and breaks the streams a test asks it to.

Our server takes both content shapes; the servers the fallback exists for (llama.cpp, Ollama, vLLM) render
messages through a chat template that takes only strings, so the proxy's record is the check. The same against
the real llama-cpp-python server: tests/peers/test_llama_cpp_server.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.backends.chat import wire_request
from assistant.events import ToolsUnavailable
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY
from tests.support.misbehaving_provider import MisbehavingProvider

CHAT = "/v1/chat/completions"


@pytest.fixture
def assistant(provider: MisbehavingProvider, tmp_path: Path) -> Iterator[Assistant]:
    with Assistant(
        base_url=provider.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        max_retries=0,
        strict_validation=True,
    ) as instance:
        yield instance


def chat_requests(provider: MisbehavingProvider) -> list[dict[str, Any]]:
    return [body for method, path, body in provider.requests if method == "POST" and path == CHAT]


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_messages_go_as_plain_strings_and_tool_calls_in_the_shape_chat_servers_take(assistant, provider):
    thread = assistant.thread(mode="chat", instructions="Be brief.")
    thread.ask("my name is Ann")
    turn = thread.ask("weather in Paris", functions=[get_weather], max_output_tokens=50)
    assert turn.text.endswith('get_weather(city="Paris") returned: sunny in Paris')

    requests = chat_requests(provider)
    assert len(requests) == 3  # the first turn, then the call and the answer after it
    for request in requests:
        assert all(isinstance(message["content"], str) for message in request["messages"]), request["messages"]
    first, call, answer = requests
    assert first["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "my name is Ann"},
    ]
    assert "tools" not in first and "tool_choice" not in first
    # The output limit in the name every compatible server reads; tools with the choice spelled out.
    assert call["max_tokens"] == 50 and "max_completion_tokens" not in call
    assert call["tool_choice"] == "auto" and [tool["function"]["name"] for tool in call["tools"]] == ["get_weather"]
    [call_message, output_message] = answer["messages"][-2:]
    assert call_message["role"] == "assistant" and call_message["content"] == ""
    [tool_call] = call_message["tool_calls"]
    assert tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Paris"}
    assert output_message == {"role": "tool", "tool_call_id": tool_call["id"], "content": "sunny in Paris"}


def test_a_stream_that_closes_half_way_is_explained_and_kept(assistant, provider):
    thread = assistant.thread(mode="chat")
    provider.corrupt_next_stream(after_events=3, line=b"")  # the role, two words, then the connection closes
    events = list(thread.stream("hello there"))
    turn = events[-1].turn
    assert events[-1].type == "turn.incomplete"
    assert (turn.status, turn.incomplete_reason) == ("incomplete", "stream_interrupted")
    assert turn.text == "Reference reply "
    assert turn.error == ("the server closed the stream after 16 characters, before the answer finished; check its log")
    assert [t.status for t in thread.history()] == ["incomplete"]
    assert len(chat_requests(provider)) == 1  # something arrived: not asked again


def test_a_stream_that_closes_without_a_word_is_asked_for_again_without_streaming(assistant, provider):
    thread = assistant.thread(mode="chat")
    thread.ask("my name is Ann")
    provider.corrupt_next_stream(after_events=1, line=b"")  # the role chunk only
    turn = thread.ask("what did I say first?")
    assert (turn.status, turn.text) == ("completed", 'You first said: "my name is Ann"')
    streamed, unstreamed = chat_requests(provider)[1:]
    assert streamed["stream"] is True and unstreamed["stream"] is False and "stream_options" not in unstreamed
    assert unstreamed["messages"] == streamed["messages"]
    assert turn.usage.output_tokens > 0  # from the completion's own usage


def test_the_cli_says_why_a_broken_stream_broke_and_exits_non_zero(provider, tmp_path):
    env = environment(
        OPENAI_BASE_URL=provider.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "index.db")
    )
    provider.corrupt_next_stream(after_events=3, line=b"")
    result = run_cli("ask", "--mode", "chat", "hello there", env=env)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "Reference reply \n"  # what arrived, as it arrived
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "error: the server closed the stream after 16 characters, before the answer "
        f"finished; check its log ({provider.base_url}); what arrived is saved in thread thr_"
    )
    assert line.endswith(", turn 1")

    provider.corrupt_next_stream(after_events=3, line=b"")
    as_json = run_cli("ask", "--json", "hello again", env=env)
    assert as_json.returncode == 1
    recorded = json.loads(as_json.stdout)  # the turn as recorded, then the same one line
    assert (recorded["status"], recorded["incomplete_reason"]) == ("incomplete", "stream_interrupted")
    assert as_json.stderr.startswith("error: the server closed the stream")


def test_tools_the_server_refuses_are_named_once_and_the_turn_is_answered_without_them(assistant, provider):
    refusal = {
        "error": {
            "message": "registry.ollama.ai/library/gemma:2b does not support tools",
            "type": "api_error",
            "param": None,
            "code": None,
        }
    }
    provider.answer("POST", f"^{CHAT}$", json.dumps(refusal).encode(), status=400, content_type="application/json")
    thread = assistant.thread(mode="chat")
    events = list(thread.stream("hello there", functions=[get_weather]))
    [notice] = [event for event in events if isinstance(event, ToolsUnavailable)]
    assert notice.tools == ["get_weather"]
    assert notice.message.startswith(
        f"{provider.base_url} refused the tools offered (get_weather): "
        "registry.ollama.ai/library/gemma:2b does not support tools; the turn was "
        "answered without them."
    )
    assert events[-1].turn.text == "Reference reply to: hello there"

    # Later turns go without the tools from the start, and say nothing more.
    events = list(thread.stream("weather in Paris", functions=[get_weather]))
    assert not [event for event in events if isinstance(event, ToolsUnavailable)]
    assert events[-1].turn.text == "Reference reply to: weather in Paris"
    refused, retried, later = chat_requests(provider)
    assert "tools" in refused and "tools" not in retried and "tools" not in later


def test_tools_the_model_never_calls_are_named_once(assistant):
    thread = assistant.thread(mode="chat")
    first = list(thread.stream("hello there", functions=[get_weather]))
    [notice] = [event for event in first if isinstance(event, ToolsUnavailable)]
    assert notice.tools == ["get_weather"]
    assert notice.message.startswith(
        "the model answered without calling the tools offered (get_weather); if "
        f"{assistant.base_url} has no function calling, it ignores them."
    )
    again = list(thread.stream("hello again", functions=[get_weather]))
    assert not [event for event in again if isinstance(event, ToolsUnavailable)]
    # Once the model has called a tool, no thread is told it cannot.
    assert 'get_weather(city="Paris") returned' in thread.ask("weather in Paris", functions=[get_weather]).text
    other = list(assistant.thread(mode="chat").stream("hello", functions=[get_weather]))
    assert not [event for event in other if isinstance(event, ToolsUnavailable)]


async def test_the_async_twin_asks_again_unstreamed_and_names_refused_tools(assistant, provider):
    thread = assistant.thread(mode="chat")
    await thread.aask("my name is Ann")
    provider.corrupt_next_stream(after_events=1, line=b"")
    turn = await thread.aask("what did I say first?")
    assert (turn.status, turn.text) == ("completed", 'You first said: "my name is Ann"')

    refusal = {"error": {"message": "tools param requires --jinja flag", "type": "server_error"}}
    provider.answer("POST", f"^{CHAT}$", json.dumps(refusal).encode(), status=500, content_type="application/json")
    events = [event async for event in thread.astream("hello there", functions=[get_weather])]
    [notice] = [event for event in events if isinstance(event, ToolsUnavailable)]
    assert "refused the tools offered (get_weather): tools param requires --jinja flag" in notice.message
    assert events[-1].turn.text == "Reference reply to: hello there"


def test_parts_stay_for_images_and_openai_gets_its_own_limit_parameter():
    request = {
        "model": "m",
        "max_completion_tokens": 40,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        ],
    }
    elsewhere = wire_request(request, server="http://localhost:8000/v1")
    assert elsewhere["messages"][0] == request["messages"][0]
    assert elsewhere["messages"][1] == {"role": "user", "content": "one\ntwo"}
    assert elsewhere["max_tokens"] == 40 and "max_completion_tokens" not in elsewhere
    # OpenAI's reasoning models refuse max_tokens.
    on_openai = wire_request(request, server="https://api.openai.com/v1")
    assert on_openai["max_completion_tokens"] == 40 and "max_tokens" not in on_openai
