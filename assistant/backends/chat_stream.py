"""Rebuild a turn from Chat Completions stream chunks and translate them into the normalized events.

The Chat twin of `response_stream.py`: pure (no connection, no I/O), shared by the sync and async paths, fed one
chunk at a time (an SDK `ChatCompletionChunk` or its wire dict). It produces exactly what the Responses backend
produces for the same answer: `ResponseStarted` (the chatcmpl id is the response id), `ItemAdded` / `TextDelta` /
`ItemDone` for one assistant `message` item shaped like a Responses output message, `function_call` items for
tool calls, `Usage`, and a final `ResponseEnded`.

A lenient SDK passes chunks through as they came, so any field may be missing, null or of the wrong type. What
the reader cannot use is skipped (a chunk that is not an object, a text delta that is not text, a tool call
without an index): the turn then ends with what did arrive, and is completed only if a real `finish_reason` did.
A stream that ends without one is incomplete (`stream_interrupted`), with an error that says so in words.

A non-streamed completion is read as the one chunk it amounts to (`completion_chunk`): the backend asks for one
when a stream closed without saying anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.backends.response_stream import MalformedEvent, as_dict
from assistant.events import Event, ItemAdded, ItemDone, ResponseEnded, ResponseStarted, TextDelta, Usage

# Chat finish_reason -> (Responses status, incomplete reason).
_ENDINGS = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "function_call": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}


def usage_of_chat(usage: Any) -> Usage:
    usage = _mapping(usage)
    return Usage(
        input_tokens=_count(usage.get("prompt_tokens")),
        cached_tokens=_count(_mapping(usage.get("prompt_tokens_details")).get("cached_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        reasoning_tokens=_count(_mapping(usage.get("completion_tokens_details")).get("reasoning_tokens")),
    )


@dataclass
class ChatStreamReader:
    response_id: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    _message: dict[str, Any] | None = None
    _message_index: int | None = None
    _calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # chat tool-call index -> function_call item
    _call_indexes: dict[int, int] = field(default_factory=dict)  # chat tool-call index -> output index
    _next_index: int = 0
    _done: bool = False

    @property
    def items(self) -> list[dict[str, Any]]:
        """Output items in output order (the message, then function calls, as they first appeared)."""
        indexed = [(index, self._calls[call]) for call, index in self._call_indexes.items()]
        if self._message is not None and self._message_index is not None:
            indexed.append((self._message_index, self._message))
        return [item for _, item in sorted(indexed, key=lambda pair: pair[0])]

    @property
    def said_nothing(self) -> bool:
        """Whether the stream so far carried no answer at all: no text, no refusal, no call, no finish_reason."""
        return self._message is None and not self._calls and self.finish_reason is None

    @property
    def text(self) -> str:
        parts = self._message["content"] if self._message else []
        return "".join(part.get("text", "") for part in parts if part.get("type") == "output_text")

    def feed(self, chunk: Any) -> list[Event]:
        """Take one chunk and return the normalized events it produces."""
        try:
            data = as_dict(chunk)
        except MalformedEvent:  # `data: null`, a number, ...: nothing to read
            return []
        events: list[Event] = []
        if self.response_id is None:
            self.response_id = _string(data.get("id"))
            self.model = _string(data.get("model"))
            events.append(ResponseStarted(response_id=self.response_id, model=self.model))
        for choice in _objects(data.get("choices")):
            if choice.get("index", 0) != 0:
                continue  # one answer per turn: the backend never asks for n > 1
            delta = _mapping(choice.get("delta"))
            if _string(delta.get("content")):
                events += self._text(delta["content"])
            if _string(delta.get("refusal")):
                events += self._refusal(delta["refusal"])
            for call in _objects(delta.get("tool_calls")):
                events += self._tool_call(call)
            if _string(choice.get("finish_reason")):
                self.finish_reason = choice["finish_reason"]
                events += self._finish()
        if isinstance(data.get("usage"), dict):
            self.usage = usage_of_chat(data["usage"])
            events.append(self.usage)
        return events

    def ended(self) -> list[Event]:
        """The events that close the turn once the stream is over: usage if it never came, and `ResponseEnded`."""
        events: list[Event] = []
        if self.usage is None:
            self.usage = Usage()
            events.append(self.usage)
        if self.finish_reason is None:
            # The body ended without a finish_reason: whatever arrived is all there is. A server that fails while
            # answering (llama.cpp's on a chat template error, for one) closes the stream like this, with a 200.
            return [
                *events,
                ResponseEnded(
                    status="incomplete",
                    items=self._finished_items(),
                    error=self._cut_short(),
                    incomplete_reason="stream_interrupted",
                ),
            ]
        status, reason = _ENDINGS.get(self.finish_reason, ("completed", None))
        return [*events, ResponseEnded(status=status, items=self.items, incomplete_reason=reason)]

    def _cut_short(self) -> str:
        if self.said_nothing:
            return "the server closed the stream before answering; check its log"
        return (
            f"the server closed the stream after {len(self.text)} characters, before the answer finished; check its log"
        )

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._message is None:
            self._message_index = self._take_index()
            self._message = {
                "id": "msg_" + (self.response_id or "").removeprefix("chatcmpl-"),
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
            events.append(ItemAdded(item=_copy(self._message), output_index=self._message_index))
        parts = self._message["content"]
        if not parts or parts[-1].get("type") != "output_text":
            parts.append({"type": "output_text", "annotations": [], "logprobs": [], "text": ""})
        parts[-1]["text"] += text
        assert self._message_index is not None
        events.append(TextDelta(text=text, item_id=self._message["id"], output_index=self._message_index))
        return events

    def _refusal(self, text: str) -> list[Event]:
        """A refusal streams as `delta.refusal`; it becomes the message's `refusal` part, as on Responses."""
        events: list[Event] = []
        if self._message is None:
            self._message_index = self._take_index()
            self._message = {
                "id": "msg_" + (self.response_id or "").removeprefix("chatcmpl-"),
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
            events.append(ItemAdded(item=_copy(self._message), output_index=self._message_index))
        parts = self._message["content"]
        if not parts or parts[-1].get("type") != "refusal":
            parts.append({"type": "refusal", "refusal": ""})
        parts[-1]["refusal"] += text
        return events

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        index = call.get("index", 0)
        if not isinstance(index, int):  # it keys the call's pieces together: without it they cannot be placed
            return []
        function = _mapping(call.get("function"))
        if index not in self._calls:
            call_id = _string(call.get("id"))
            self._call_indexes[index] = self._take_index()
            self._calls[index] = {
                "id": "fc_" + call_id.removeprefix("call_"),
                "type": "function_call",
                "status": "in_progress",
                "arguments": "",
                "call_id": call_id,
                "name": _string(function.get("name")),
            }
            added = ItemAdded(item=_copy(self._calls[index]), output_index=self._call_indexes[index])
            self._calls[index]["arguments"] += _string(function.get("arguments"))
            return [added]
        self._calls[index]["arguments"] += _string(function.get("arguments"))
        return []

    def _finish(self) -> list[Event]:
        if self._done:
            return []
        self._done = True
        status, _ = _ENDINGS.get(self.finish_reason or "stop", ("completed", None))
        events: list[Event] = []
        for item, index in self._open_items():
            item["status"] = status
            events.append(ItemDone(item=_copy(item), output_index=index))
        return events

    def _open_items(self) -> list[tuple[dict[str, Any], int]]:
        opened = [(self._calls[call], index) for call, index in self._call_indexes.items()]
        if self._message is not None and self._message_index is not None:
            opened.append((self._message, self._message_index))
        return sorted(opened, key=lambda pair: pair[1])

    def _finished_items(self) -> list[dict[str, Any]]:
        return self.items if self._done else []

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index


def completion_chunk(completion: Any) -> dict[str, Any]:
    """A non-streamed chat completion (an SDK `ChatCompletion` or its wire dict) as the one stream chunk that says
    the same: each choice's message as its delta, tool calls numbered as a stream numbers them."""
    try:
        data = as_dict(completion)
    except MalformedEvent:
        return {}
    choices = []
    for choice in _objects(data.get("choices")):
        delta = dict(_mapping(choice.get("message")))
        calls = _objects(delta.get("tool_calls"))
        delta["tool_calls"] = [{**call, "index": number} for number, call in enumerate(calls)]
        choices.append({**choice, "delta": delta})
    return {**data, "choices": choices}


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "content": [dict(part) for part in item["content"]]} if "content" in item else dict(item)
