"""Your own tools and structured answers, end to end: the real SDK (strict validation) against the local server
over loopback HTTP, the reference engine deciding the calls (assistant/server/engines/function_rules.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Literal

import pydantic
import pytest

from assistant import StructuredAnswerError, TurnFailed
from assistant.doctor import check
from assistant.functions import FunctionCall, function_tool, run_calls
from assistant.structured import answer_schema, parse_answer
from tests.support.fixtures import TEST_KEY
from tests.support.sample_functions import TWO_ROUNDS, get_time, get_weather


@pytest.fixture
def assistant(reference_assistant):
    return reference_assistant


# -- the loop, in every mode --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["conversation", "chain", "local", "chat"])
def test_two_functions_two_rounds(assistant, mode):
    thread = assistant.thread(mode=mode)
    events = list(thread.stream(TWO_ROUNDS, functions=[get_weather, get_time]))
    turn = events[-1].turn

    results = [event for event in events if event.type == "function.result"]
    assert [(r.name, json.loads(r.arguments), r.output, r.round) for r in results] == [
        ("get_weather", {"city": "Paris"}, "Sunny, 21 C in Paris", 1),
        ("get_time", {"city": "Tokyo"}, "14:05 in Tokyo", 2),
    ]
    assert turn.status == "completed" and turn.rounds == 3
    assert "Sunny, 21 C in Paris" in turn.text and "14:05 in Tokyo" in turn.text
    # One turn: the message, then every round's items and the outputs that answered them, in order.
    assert [(item.direction, item.type) for item in turn.items] == [
        ("input", "message"),
        ("output", "function_call"),
        ("input", "function_call_output"),
        ("output", "function_call"),
        ("input", "function_call_output"),
        ("output", "message"),
    ]
    calls = [item.data for item in turn.items if item.type == "function_call"]
    outputs = [item.data for item in turn.items if item.type == "function_call_output"]
    assert [o["call_id"] for o in outputs] == [c["call_id"] for c in calls]
    # Output indexes count over the whole turn: no two items share one.
    added = [event.output_index for event in events if event.type == "item.added"]
    assert added == sorted(set(added)) == [0, 2, 4]
    # Usage is the sum of the three responses; the turn's response is the last one.
    assert turn.usage.input_tokens > 0 and turn.usage.output_tokens > 0
    assert turn.response_id == next(e.response_id for e in reversed(events) if e.type == "response.started")

    records = assistant.store.tool_calls(thread.id)
    assert [(r.type, r.call_id, r.output, r.error) for r in records] == [
        ("function_call", calls[0]["call_id"], "Sunny, 21 C in Paris", None),
        ("function_call", calls[1]["call_id"], "14:05 in Tokyo", None),
    ]
    assert all(r.duration_ms is not None and r.duration_ms >= 0 for r in records)

    # The index and the server agree: the next turn sees the history, doctor finds nothing, history() has it all.
    follow_up = thread.ask("what did I say first?")
    assert follow_up.text == f'You first said: "{TWO_ROUNDS}"'
    assert check(assistant, thread.id).findings == []
    assert [t.rounds for t in thread.history()] == [3, 1]


def test_a_fork_and_a_mode_switch_replay_a_function_turn(assistant):
    thread = assistant.thread()
    thread.ask(TWO_ROUNDS, functions=[get_weather, get_time])
    fork = thread.fork(at_turn=1)
    assert fork.ask("how many messages?").text == "You have sent me 3 messages."
    thread.set_mode("local")
    assert thread.ask("what did I say first?").text == f'You first said: "{TWO_ROUNDS}"'


def test_functions_registered_on_the_thread_and_by_decorator(assistant):
    thread = assistant.thread()

    @thread.function
    def multiply(a: int, b: int) -> int:
        """Multiply two numbers."""
        return a * b

    assert multiply(3, 4) == 12  # still callable
    turn = thread.ask("What is 1231 * 2331? Use the multiply tool.")
    assert "multiply(a=1231, b=2331) returned: 2869461" in turn.text
    assert [f.name for f in thread.functions] == ["multiply"]


def test_without_functions_a_call_ends_the_turn_with_the_call(assistant):
    # Offered as a raw tool param (not a callable), the library leaves the call to the caller, as before.
    thread = assistant.thread(mode="chain")
    tool = function_tool(get_weather).api_param()
    turn = thread.ask("weather in Paris", tools=[], tool_choice="auto", extra_body={"tools": [tool]})
    assert turn.status == "completed"
    assert [item.type for item in turn.output_items] == ["function_call"]


def test_a_tool_that_raises_becomes_an_error_the_model_sees(assistant):
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        raise ConnectionError("weather service down")

    thread = assistant.thread()
    events = list(thread.stream("weather in Paris", functions=[get_weather]))
    [result] = [event for event in events if event.type == "function.result"]
    assert result.error == "ConnectionError: weather service down"
    assert result.output == "error: ConnectionError: weather service down"
    turn = events[-1].turn
    assert turn.status == "completed"
    assert 'get_weather(city="Paris") failed: ConnectionError: weather service down' in turn.text
    [record] = assistant.store.tool_calls(thread.id)
    assert record.error == "ConnectionError: weather service down"


def test_arguments_that_do_not_validate_become_an_error_output():
    def set_volume(level: int) -> str:
        """Set the volume."""
        return f"volume {level}"

    tools = {"set_volume": function_tool(set_volume)}
    bad, not_json, unknown = run_calls(
        [
            FunctionCall("c1", "set_volume", '{"level": "loud"}'),
            FunctionCall("c2", "set_volume", "{"),
            FunctionCall("c3", "get_volume", "{}"),
        ],
        tools,
        None,
    )
    assert bad.output.startswith("error: invalid arguments: level:") and bad.error
    assert not_json.output.startswith("error: the arguments are not JSON")
    assert unknown.output == "error: there is no function named 'get_volume' (available: set_volume)"


def test_parallel_calls_run_together_in_one_round(assistant):
    both_running = threading.Barrier(2, timeout=5)  # each call waits for the other: only concurrency passes

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        both_running.wait()
        return f"Sunny in {city}"

    def get_time(city: str) -> str:
        """Local time in a city."""
        both_running.wait()
        return f"noon in {city}"

    thread = assistant.thread()
    events = list(
        thread.stream("What's the weather in Paris and the time in Paris?", functions=[get_weather, get_time])
    )
    results = [event for event in events if event.type == "function.result"]
    assert [(r.name, r.output, r.round, r.error) for r in results] == [
        ("get_weather", "Sunny in Paris", 1, None),
        ("get_time", "noon in Paris", 1, None),
    ]
    turn = events[-1].turn
    assert turn.rounds == 2
    assert [item.type for item in turn.items] == [
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
    ]


def test_async_tools_in_the_async_api(assistant):
    async def get_weather(city: str) -> str:
        """Current weather in a city."""
        await asyncio.sleep(0.01)
        return f"Rainy in {city}"

    def get_time(city: str) -> str:  # sync: runs in a worker thread, off the event loop
        """Local time in a city."""
        return f"{threading.current_thread() is not threading.main_thread()} in {city}"

    async def run():
        thread = assistant.thread()
        events = [event async for event in thread.astream(TWO_ROUNDS, functions=[get_weather, get_time])]
        return events

    events = asyncio.run(run())
    results = [event for event in events if event.type == "function.result"]
    assert [r.output for r in results] == ["Rainy in Paris", "True in Tokyo"]
    assert events[-1].turn.status == "completed"


def test_approval_denied_tells_the_model_and_runs_nothing(assistant):
    ran = []

    @function_tool(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return "deleted"

    asked: list[FunctionCall] = []

    def approve(call: FunctionCall) -> bool:
        asked.append(call)
        return False

    thread = assistant.thread()
    events = list(thread.stream('delete the file, path is "notes.txt"', functions=[delete_file], approve=approve))
    [result] = [event for event in events if event.type == "function.result"]
    assert ran == [] and [call.parsed for call in asked] == [{"path": "notes.txt"}]
    assert result.approved is False and result.error.startswith("denied")
    assert "delete_file" in events[-1].turn.text and "not run" in events[-1].turn.text

    thread.approve = lambda call: True  # the thread's approver, when a turn gives none
    events = list(thread.stream('delete the file, path is "notes.txt"', functions=[delete_file]))
    [result] = [event for event in events if event.type == "function.result"]
    assert ran == ["notes.txt"] and result.approved is True and result.output == "deleted"


def test_an_async_approval_callback(assistant):
    @function_tool(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        return "deleted"

    async def approve(call: FunctionCall) -> str:
        await asyncio.sleep(0)
        return "the user said no"  # a string denies, with the reason

    async def run():
        thread = assistant.thread()
        return await thread.aask('delete the file, path is "a.txt"', functions=[delete_file], approve=approve)

    turn = asyncio.run(run())
    assert "the user said no" in turn.text


def test_the_round_limit_makes_the_model_answer(assistant):
    thread = assistant.thread()
    events = list(thread.stream(TWO_ROUNDS, functions=[get_weather, get_time], max_function_rounds=1))
    results = [event for event in events if event.type == "function.result"]
    assert [r.name for r in results] == ["get_weather"]  # the next round was sent with tool_choice "none"
    turn = events[-1].turn
    assert turn.status == "completed" and turn.rounds == 2
    assert "get_weather" in turn.text and "get_time" not in turn.text


# -- structured answers --------------------------------------------------------------------------------------------


class Weather(pydantic.BaseModel):
    city: str
    temperature: int
    sky: Literal["clear", "cloudy", "rain"]


@pytest.mark.parametrize("mode", ["conversation", "chat"])
def test_a_schema_answer_is_parsed_into_the_model(assistant, mode, server):
    thread = assistant.thread(mode=mode)
    turn = thread.ask("Describe the weather in Paris", schema=Weather)
    assert isinstance(turn.parsed, Weather)
    assert turn.parsed.sky == "clear"
    assert json.loads(turn.text) == turn.parsed.model_dump()
    assert turn.output_format["type"] == "json_schema" and turn.output_format["name"] == "Weather"
    # Read back from the index, the answer is the JSON value.
    assert thread.history()[-1].parsed == turn.parsed.model_dump()


def test_a_json_schema_dict_and_functions_together(assistant):
    schema = {
        "type": "object",
        "properties": {"summary": {"type": "string"}},
        "required": ["summary"],
        "additionalProperties": False,
    }
    thread = assistant.thread()
    turn = thread.ask("weather in Paris", functions=[get_weather], schema=schema)
    assert turn.rounds == 2
    assert "Sunny, 21 C in Paris" in turn.parsed["summary"]


def test_an_answer_that_does_not_validate_is_reported(assistant):
    class Strict(pydantic.BaseModel):
        city: str

        @pydantic.field_validator("city")
        @classmethod
        def short(cls, value: str) -> str:
            if len(value) > 5:
                raise ValueError("too long")
            return value

    thread = assistant.thread()
    with pytest.raises(StructuredAnswerError) as caught:
        thread.ask("weather in Paris", schema=Strict)
    error = caught.value
    assert "does not match Strict" in str(error) and "too long" in error.problem
    assert error.turn.status == "completed" and json.loads(error.turn.text)["city"]
    assert thread.history()[-1].error == str(error)


def test_a_schema_the_engine_cannot_satisfy_fails_honestly(assistant):
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[0-9]{6}$"}},
        "required": ["code"],
        "additionalProperties": False,
    }
    thread = assistant.thread()
    with pytest.raises(TurnFailed) as caught:
        thread.ask("give me a code", schema=schema)
    assert "cannot answer in the requested format" in str(caught.value)
    assert caught.value.turn.status == "failed"


def test_an_invalid_schema_is_a_400(assistant):
    thread = assistant.thread()
    with pytest.raises(Exception) as caught:
        thread.ask("hi", schema={"type": "json_schema", "name": "x", "schema": {"type": "nonsense"}})
    assert "Invalid schema" in str(caught.value)


def test_a_refusal_is_reported_not_parsed():
    items = [{"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]}]
    with pytest.raises(StructuredAnswerError) as caught:
        parse_answer(items, answer_schema(Weather))
    assert caught.value.refusal == "I can't." and "refused" in str(caught.value)


def test_a_chat_refusal_stream_becomes_a_refusal_part():
    from assistant.backends.chat_stream import ChatStreamReader

    reader = ChatStreamReader()
    for delta, finish in (
        ({"role": "assistant", "content": None, "refusal": ""}, None),
        ({"refusal": "I can't"}, None),
        ({"refusal": " help."}, None),
        ({}, "stop"),
    ):
        reader.feed(
            {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        )
    [ended] = [event for event in reader.ended() if event.type == "response.ended"]
    assert ended.items[0]["content"] == [{"type": "refusal", "refusal": "I can't help."}]


# -- schemas from type hints ---------------------------------------------------------------------------------------


class Place(pydantic.BaseModel):
    city: str
    country: str


def test_schemas_from_type_hints_and_docstrings():
    def forecast(place: Place, days: int, unit: Literal["c", "f"]) -> str:
        """Forecast for a place.

        Longer text that is not the description."""
        return f"{place.city}: {days} {unit}"

    tool = function_tool(forecast)
    param = tool.api_param()
    assert param["description"] == "Forecast for a place."
    assert param["strict"] is True
    assert param["parameters"]["required"] == ["place", "days", "unit"]
    assert param["parameters"]["additionalProperties"] is False
    assert param["parameters"]["$defs"]["Place"]["additionalProperties"] is False
    [outcome] = run_calls(
        [FunctionCall("c1", "forecast", '{"place": {"city": "Oslo", "country": "NO"}, "days": 2, "unit": "c"}')],
        {"forecast": tool},
        None,
    )
    assert outcome.output == "Oslo: 2 c"  # the nested model arrives as an instance

    def search(query: str, limit: int = 5) -> list[str]:
        """Search."""
        return [query] * limit

    loose = function_tool(search)
    assert loose.strict is False and loose.parameters["required"] == ["query"]
    [outcome] = run_calls([FunctionCall("c2", "search", '{"query": "x"}')], {"search": loose}, None)
    assert json.loads(outcome.output) == ["x"] * 5


# -- the wire: the local server's function_call stream follows the recorded grammar --------------------------------


def test_function_call_events_follow_the_recording(server):
    import openai

    from tests.support.recorded_server import load_recording

    recorded = load_recording("llm__test_openai_responses__test_responses_tool_use_streaming__00")
    request = recorded["request"]["json"]
    client = openai.OpenAI(base_url=server.base_url, api_key=TEST_KEY, _strict_response_validation=True)
    with client.responses.create(
        model="reference", input=request["input"], tools=request["tools"], stream=True
    ) as stream:
        ours = [event.type for event in stream]

    def shape(types):
        collapsed = []
        for kind in types:
            if not collapsed or collapsed[-1] != kind or not kind.endswith(".delta"):
                collapsed.append(kind)
        return collapsed

    theirs = [event["data"]["type"] for event in recorded["response"]["sse_events"]]
    assert shape(ours) == shape(theirs)
