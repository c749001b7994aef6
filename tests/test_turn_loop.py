"""The turn loop (assistant/turn_loop.py) is written once and driven twice: `stream` and `astream` must be the same
turn. Through the real SDK over HTTP against the local server (strict validation), in every mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from assistant.events import Event
from assistant.turn import Turn
from tests.support.sample_functions import TWO_ROUNDS, get_time, get_weather


@pytest.fixture
def assistant(reference_assistant):
    return reference_assistant


def recorded(turn: Turn) -> dict[str, Any]:
    """What the index holds of a turn, without what differs from one run to the next (ids, times)."""
    return {
        "status": turn.status,
        "text": turn.text,
        "rounds": turn.rounds,
        "backend": turn.backend,
        "items": [(item.direction, item.type, item.data.get("name"), item.data.get("output")) for item in turn.items],
        "usage": (turn.usage.input_tokens > 0, turn.usage.output_tokens > 0),
        "sent": turn.request_bytes > 0,
    }


def shape(events: list[Event]) -> list[str]:
    return [event.type for event in events]


@pytest.mark.parametrize("mode", ["conversation", "chain", "local", "chat"])
def test_stream_and_astream_are_the_same_turn(assistant, mode):
    sync_thread = assistant.thread(mode=mode)
    sync_events = list(sync_thread.stream(TWO_ROUNDS, functions=[get_weather, get_time]))

    async def run() -> list[Event]:
        thread = assistant.thread(mode=mode)
        return [event async for event in thread.astream(TWO_ROUNDS, functions=[get_weather, get_time])]

    async_events = asyncio.run(run())
    assert shape(async_events) == shape(sync_events)
    assert shape(sync_events)[0] == "turn.started" and shape(sync_events)[-1] == "turn.completed"
    sync_turn, async_turn = sync_events[-1].turn, async_events[-1].turn
    assert recorded(async_turn) == recorded(sync_turn)
    assert recorded(sync_turn)["rounds"] == 3 and recorded(sync_turn)["sent"]
    # What was recorded is what the index reads back.
    assert recorded(assistant.thread(sync_turn.thread_id).history()[-1]) == recorded(sync_turn)


@pytest.mark.parametrize("mode", ["conversation", "chat"])
def test_closing_an_async_stream_records_a_cancelled_turn_with_its_partial_text(assistant, mode):
    thread = assistant.thread(mode=mode)

    async def run() -> list[str]:
        stream = thread.astream("count to 200")
        received: list[str] = []
        async for event in stream:
            if event.type == "text.delta":
                received.append(event.text)
                if len(received) == 3:
                    break
        await stream.aclose()
        return received

    received = asyncio.run(run())
    turn = thread.history()[-1]
    assert turn.status == "cancelled"
    assert turn.text == "".join(received)
    assert turn.error == "cancelled before the answer finished"


def test_cancelling_the_task_of_an_async_turn_records_it_cancelled(assistant):
    thread = assistant.thread()

    async def run() -> None:
        started = asyncio.Event()

        async def read() -> None:
            async for event in thread.astream("count to 500"):
                if event.type == "text.delta":
                    started.set()

        task = asyncio.create_task(read())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    turn = thread.history()[-1]
    assert turn.status == "cancelled" and turn.text


def test_closing_a_chat_mode_stream_records_a_cancelled_turn(assistant):
    thread = assistant.thread(mode="chat")
    stream = thread.stream("count to 200")
    received = []
    for event in stream:
        if event.type == "text.delta":
            received.append(event.text)
            if len(received) == 3:
                break
    stream.close()
    turn = thread.history()[-1]
    assert turn.status == "cancelled" and turn.backend == "chat"
    assert turn.text == "".join(received)
