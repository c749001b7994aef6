"""Fuzz the Chat Completions fallback's stream consumer: real recorded `chat.completion.chunk` streams, broken in
every way a provider or a network can break them, served over loopback HTTP to the real SDK and the library
(a chat-mode Thread.stream -> ChatBackend -> ChatStreamReader -> the index).

The same promises as the Responses consumer (test_stream_consumer.py): only our own errors, never our own code
tripping over the input, bounded time, and a turn recorded as `completed` only if the stream really finished: a
chunk with a `finish_reason` arrived intact, before any `[DONE]` (the SDK stops reading there).
"""

from __future__ import annotations

import hypothesis
from hypothesis import strategies as st

from assistant import Assistant
from tests.support.recorded_server import load_recording, recording_names

from .conftest import fuzzed
from .raw_stream_server import RawStreamServer, sse_frame
from .test_stream_consumer import HUGE_DELTA_CHARS, delivered_data, json_values, run_turn, served_bodies

STREAMS = recording_names(path="/v1/chat/completions", sse=True)
DONE = {"event": None, "data": "[DONE]"}


def _first_choice(chunk: object) -> dict | None:
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


@st.composite
def broken_chunks(draw: st.DrawFn, events: list[dict]) -> list[dict]:
    """The recorded chunks with structural damage: truncated, reordered, duplicated, fields gone or wrong, at the
    chunk, choice, delta, tool call and usage levels."""
    events = [{"event": e.get("event"), "data": e["data"]} for e in events]
    for _ in range(draw(st.integers(0, 4))):
        if not events:
            break
        index = draw(st.integers(0, len(events) - 1))
        kind = draw(
            st.sampled_from(
                [
                    "truncate",
                    "drop",
                    "duplicate",
                    "swap",
                    "early_done",
                    "wrong_chunk",
                    "wrong_choice",
                    "wrong_delta",
                    "wrong_tool_call",
                    "wrong_usage",
                    "huge_delta",
                ]
            )
        )
        event = events[index]
        chunk = event["data"] if isinstance(event["data"], dict) else {}
        choice = _first_choice(chunk)
        if kind == "truncate":
            events = events[:index]
        elif kind == "drop":
            del events[index]
        elif kind == "duplicate":
            events.insert(index, event)
        elif kind == "swap":
            other = draw(st.integers(0, len(events) - 1))
            events[index], events[other] = events[other], events[index]
        elif kind == "early_done":
            events.insert(index, DONE)
        elif kind == "wrong_chunk" and chunk:
            key = draw(st.sampled_from(sorted(chunk)))
            events[index] = {**event, "data": {**chunk, key: draw(json_values)}}
        elif kind == "wrong_choice" and choice is not None:
            key = draw(st.sampled_from(["index", "delta", "finish_reason", *sorted(choice)]))
            events[index] = {**event, "data": {**chunk, "choices": [{**choice, key: draw(json_values)}]}}
        elif (
            kind in ("wrong_delta", "wrong_tool_call") and choice is not None and isinstance(choice.get("delta"), dict)
        ):
            delta = choice["delta"]
            calls = delta.get("tool_calls")
            if kind == "wrong_delta":
                key = draw(st.sampled_from(["content", "refusal", "role", "tool_calls", *sorted(delta)]))
                delta = {**delta, key: draw(json_values)}
            elif isinstance(calls, list) and calls and isinstance(calls[0], dict):
                call = calls[0]
                key = draw(st.sampled_from(["index", "id", "function", "function.name", "function.arguments"]))
                if key.startswith("function.") and isinstance(call.get("function"), dict):
                    call = {**call, "function": {**call["function"], key.split(".")[1]: draw(json_values)}}
                else:
                    call = {**call, key: draw(json_values)}
                delta = {**delta, "tool_calls": [call, *calls[1:]]}
            events[index] = {**event, "data": {**chunk, "choices": [{**choice, "delta": delta}]}}
        elif kind == "wrong_usage" and isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
            key = draw(
                st.sampled_from(
                    [
                        "prompt_tokens",
                        "completion_tokens",
                        "prompt_tokens_details",
                        "completion_tokens_details",
                        *sorted(usage),
                    ]
                )
            )
            events[index] = {**event, "data": {**chunk, "usage": {**usage, key: draw(json_values)}}}
        elif kind == "huge_delta" and choice is not None:
            delta = {"content": "x" * HUGE_DELTA_CHARS}
            events.insert(index, {**event, "data": {**chunk, "choices": [{"index": 0, "delta": delta}]}})
    return events


def delivered_finish(body: bytes) -> bool:
    """Whether `body` holds an intact chunk whose first answer has a `finish_reason`, before any `[DONE]`."""
    for data in delivered_data(body):
        if data == "[DONE]":
            return False
        choices = data.get("choices") if isinstance(data, dict) else None
        for choice in choices if isinstance(choices, list) else []:
            if (
                isinstance(choice, dict)
                and choice.get("index", 0) == 0
                and isinstance(choice.get("finish_reason"), str)
                and choice["finish_reason"]
            ):
                return True
    return False


# -- the fuzz ----------------------------------------------------------------------------------------------------


@fuzzed(60)
@hypothesis.given(body=served_bodies(STREAMS, broken_chunks))
def test_chat_stream_consumer_survives_broken_streams(
    body: bytes, raw_server: RawStreamServer, library: Assistant
) -> None:
    hypothesis.note(f"served body: {body[:4000]!r}")
    raw_server.body = body
    turn = run_turn(library.thread(mode="chat"))
    if turn.status == "completed":
        assert delivered_finish(body), "recorded as completed, but no chunk with a finish_reason arrived"


def test_the_recorded_streams_complete(raw_server: RawStreamServer, library: Assistant) -> None:
    """The oracle's other side: every recorded stream, served whole, is a completed turn."""
    for name in STREAMS:
        body = b"".join(sse_frame(e) for e in load_recording(name)["response"]["sse_events"])
        assert delivered_finish(body), name
        raw_server.body = body
        assert run_turn(library.thread(mode="chat")).status == "completed", name
