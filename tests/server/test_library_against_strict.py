"""The library never sends what the strict server (and the real API) refuses: a thread goes on after a function
call no one answered, in every mode (assistant/backends/backend.py: `with_open_calls_answered`)."""

from __future__ import annotations

import pytest

from assistant import Assistant
from assistant.backends.backend import UNANSWERED_CALL_OUTPUT, with_open_calls_answered
from assistant.functions import function_tool


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


@pytest.mark.parametrize("mode", ["conversation", "chain", "local"])
def test_a_thread_goes_on_after_a_call_left_to_the_caller(assistant: Assistant, mode: str) -> None:
    thread = assistant.thread(mode=mode)
    raw_tool = function_tool(get_weather).api_param()  # a raw tool param: the library leaves the call to you
    first = thread.ask("weather in Paris", tools=[], tool_choice="auto", extra_body={"tools": [raw_tool]})
    assert [item.type for item in first.output_items] == ["function_call"]
    second = thread.ask("Never mind. How many messages?")
    assert second.status == "completed"
    # The model is told the call never ran: its output stands in the history the next turn sends.
    third = thread.ask("What did I say first?")
    assert third.text == 'You first said: "weather in Paris"'


@pytest.mark.parametrize("mode", ["conversation", "chain"])
async def test_a_server_state_ending_with_an_open_call_is_rebuilt(assistant: Assistant, mode: str) -> None:
    # The server holds the call unanswered: it refuses the next message (as the real API does), and the turn is
    # sent again with the state rebuilt from the index, where the call has its output. The async path, too.
    thread = assistant.thread(mode=mode)
    raw_tool = function_tool(get_weather).api_param()
    await thread.aask("weather in Paris", tools=[], tool_choice="auto", extra_body={"tools": [raw_tool]})
    events = [event async for event in thread.astream("How many messages?")]
    rebuilt = [event for event in events if event.type == "thread.state_rebuilt"]
    assert len(rebuilt) == 1
    assert "a function call never answered" in rebuilt[0].reason
    assert events[-1].type == "turn.completed"
    again = await thread.aask("And now?")  # the rebuilt state goes on without a second rebuild
    assert again.status == "completed"


def test_chat_mode_sends_no_tool_choice_without_tools(assistant: Assistant) -> None:
    thread = assistant.thread(mode="chat")
    turn = thread.ask("hello", tools=[], tool_choice="auto")
    assert turn.status == "completed"


def test_a_history_with_an_open_call_is_sent_with_its_output() -> None:
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    other = {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"}
    answer = {"type": "function_call_output", "call_id": "c2", "output": "ok"}
    user = {"type": "message", "role": "user", "content": "next"}
    assert with_open_calls_answered([call, other, answer, user]) == [
        call,
        other,
        {"type": "function_call_output", "call_id": "c1", "output": UNANSWERED_CALL_OUTPUT},
        answer,
        user,
    ]
    assert with_open_calls_answered([user, call]) == [
        user,
        call,
        {"type": "function_call_output", "call_id": "c1", "output": UNANSWERED_CALL_OUTPUT},
    ]
