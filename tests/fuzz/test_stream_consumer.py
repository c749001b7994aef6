"""Fuzz the client's stream consumer: real recorded Responses streams, broken in every way a provider or a network
can break them, served over loopback HTTP to the real SDK and the library (Thread.stream -> ResponsesBackend ->
ResponseStreamReader -> the index).

Whatever arrives, the library must:
- raise nothing but its own errors (assistant/errors.py), and never because our own code tripped over the input
  (a TypeError in the reader wrapped as "the stream broke off" is still our bug);
- end in bounded time;
- never record a turn as `completed` unless an intact `response.completed` event arrived.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import strategies as st

import assistant
from assistant import Assistant, Thread, Turn
from assistant.errors import AssistantError
from tests.support.recorded_server import load_recording, recording_names

from .conftest import fuzzed
from .raw_stream_server import RawStreamServer, sse_frame

STREAMS = recording_names(path="/v1/responses", sse=True)
HANG_LIMIT_S = 20.0  # a turn that takes longer than this over loopback is hung
HUGE_DELTA_CHARS = 2_000_000
OUR_CODE = str(Path(assistant.__file__).parent)

Frame = bytes  # one SSE event as sent, blank line included


# -- what can go wrong with a stream -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)

RAW_FRAMES = [
    b"data: {not json\n\n",  # garbage JSON
    b"data: \xff\xfe\xfd invalid utf-8\n\n",
    b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", "delta": "\xc3\x28"}\n\n',
    b"data: [DONE]\n\n",  # the Chat Completions end marker, which Responses streams never send
    b": a comment line\n\n",
    b"data: null\n\n",
    b"data: 42\n\n",
    b"data: []\n\n",
    b'event: error\ndata: {"type": "error"}\n\n',  # an error event without a message
    b"retry: 10\n\n",
    b"\n\n\n",
]


@st.composite
def broken_events(draw: st.DrawFn, events: list[dict]) -> list[dict]:
    """The recorded events with structural damage: truncated, reordered, duplicated, fields gone or wrong."""
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
                    "unknown_type",
                    "drop_field",
                    "null_field",
                    "wrong_field",
                    "wrong_nested",
                    "damage_response",
                    "huge_delta",
                ]
            )
        )
        event = events[index]
        data = event["data"] if isinstance(event["data"], dict) else {}
        if kind == "truncate":
            events = events[:index]
        elif kind == "drop":
            del events[index]
        elif kind == "duplicate":
            events.insert(index, event)
        elif kind == "swap":
            other = draw(st.integers(0, len(events) - 1))
            events[index], events[other] = events[other], events[index]
        elif kind == "unknown_type":
            name = "response." + draw(st.text("abcdefghijklmnopqrstuvwxyz._", min_size=1, max_size=20))
            events[index] = {"event": name, "data": {**data, "type": name}}
        elif kind in ("drop_field", "null_field", "wrong_field") and data:
            key = draw(st.sampled_from(sorted(data)))
            changed = dict(data)
            if kind == "drop_field":
                del changed[key]
            else:
                changed[key] = None if kind == "null_field" else draw(json_values)
            events[index] = {**event, "data": changed}
        elif kind == "wrong_nested":  # a field inside the event's response or item object
            inner_key = "response" if isinstance(data.get("response"), dict) else "item"
            inner = data.get(inner_key)
            if isinstance(inner, dict) and inner:
                key = draw(st.sampled_from(sorted(inner)))
                events[index] = {**event, "data": {**data, inner_key: {**inner, key: draw(json_values)}}}
        elif kind == "damage_response":
            # A field the reader takes from a lifecycle event's response (there are few such events: pick one).
            lifecycle = [
                i
                for i, e in enumerate(events)
                if isinstance(e["data"], dict) and isinstance(e["data"].get("response"), dict)
            ]
            if lifecycle:
                index = draw(st.sampled_from(lifecycle))
                data = events[index]["data"]
                key = draw(st.sampled_from(["id", "model", "status", "usage", "error", "incomplete_details", "output"]))
                events[index] = {
                    **events[index],
                    "data": {**data, "response": {**data["response"], key: draw(json_values)}},
                }
        elif kind == "huge_delta":
            delta = {
                "type": "response.output_text.delta",
                "item_id": data.get("item_id", "msg_fuzz"),
                "output_index": 0,
                "content_index": 0,
                "delta": "x" * HUGE_DELTA_CHARS,
            }
            events.insert(index, {"event": "response.output_text.delta", "data": delta})
    return events


@st.composite
def served_bodies(draw: st.DrawFn, streams: list[str], broken: Callable[[list[dict]], st.SearchStrategy]) -> bytes:
    """A whole response body: one of the recorded `streams` broken by `broken`, raw garbage frames slipped in,
    and maybe cut at any byte."""
    recording = load_recording(draw(st.sampled_from(streams)))
    frames: list[Frame] = [sse_frame(e) for e in draw(broken(recording["response"]["sse_events"]))]
    for _ in range(draw(st.integers(0, 2))):
        frames.insert(draw(st.integers(0, len(frames))), draw(st.sampled_from(RAW_FRAMES)))
    body = b"".join(frames)
    if body and draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body) - 1))]
    return body


def delivered_data(body: bytes) -> Iterator[Any]:
    """The `data:` payloads of `body`'s complete frames, in order, parsed as JSON ("[DONE]" as the string
    itself; lines that are not JSON left out)."""
    for block in body.split(b"\n\n")[:-1]:  # the last piece is unterminated (or empty)
        for line in block.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            if line[5:].strip().startswith(b"[DONE]"):
                yield "[DONE]"
                continue
            try:
                yield json.loads(line[5:].decode())
            except ValueError:
                continue


def delivered_completion(body: bytes) -> bool:
    """Whether `body` holds an intact `response.completed` event: complete, valid JSON, with its response."""
    return any(
        isinstance(data, dict) and data.get("type") == "response.completed" and isinstance(data.get("response"), dict)
        for data in delivered_data(body)
    )


# -- the fuzz ----------------------------------------------------------------------------------------------------


@fuzzed(100)
@hypothesis.given(body=served_bodies(STREAMS, broken_events))
def test_stream_consumer_survives_broken_streams(body: bytes, raw_server: RawStreamServer, library: Assistant) -> None:
    hypothesis.note(f"served body: {body[:4000]!r}")
    raw_server.body = body
    check_turn(library, body)


def check_turn(library: Assistant, body: bytes) -> None:
    turn = run_turn(library.thread(mode="chain"))
    if turn.status == "completed":
        assert delivered_completion(body), "recorded as completed, but no intact response.completed arrived"


def run_turn(thread: Thread) -> Turn:
    """One turn of `thread` against whatever is served, checked for what holds for every stream (bounded time,
    a closed turn record, only our own errors and none from our own code); returns the recorded turn."""
    started = time.monotonic()
    error: AssistantError | None = None
    try:
        for _event in thread.stream("fuzz"):
            pass
    except AssistantError as raised:
        error = raised
    elapsed = time.monotonic() - started
    assert elapsed < HANG_LIMIT_S, f"the turn took {elapsed:.1f} s"
    turn = thread.history()[-1]
    assert turn.status in ("completed", "incomplete", "failed"), turn.status
    if error is not None:
        assert error.turn is not None and error.turn.id == turn.id
        origin = _origin(error.__cause__)
        assert origin is None or not origin.startswith(OUR_CODE), (
            f"our code failed on the stream: {type(error.__cause__).__name__}: {error.__cause__} at {origin}"
        )
    return turn


def _origin(exc: BaseException | None) -> str | None:
    """`file:line` where `exc` was raised (its innermost frame)."""
    if exc is None or exc.__traceback__ is None:
        return None
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{last.filename}:{last.lineno}"


def test_huge_delta_is_kept_whole(raw_server: RawStreamServer, library: Assistant) -> None:
    """A plain example beside the fuzz: a 2 MB delta in an otherwise normal stream arrives intact."""
    events = load_recording("llm__test_openai_responses__test_responses_basic_streaming__00")["response"]["sse_events"]
    first_delta = next(i for i, e in enumerate(events) if e["data"]["type"] == "response.output_text.delta")
    events = [dict(e) for e in events]
    events[first_delta] = {
        **events[first_delta],
        "data": {**events[first_delta]["data"], "delta": "y" * HUGE_DELTA_CHARS},
    }
    raw_server.body = b"".join(sse_frame(e) for e in events)
    thread = library.thread(mode="chain")
    deltas = [event.text for event in thread.stream("big") if event.type == "text.delta"]
    assert len(deltas[0]) == HUGE_DELTA_CHARS
    assert thread.history()[-1].status == "completed"
