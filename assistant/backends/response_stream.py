"""Rebuild a turn from the Responses API's SSE events and translate them into normalized events.

The reader is pure: it holds no connection and does no I/O, so the sync and async backends share it, and the
recordings in tests/recordings/ can be replayed through it. It dispatches on the `type` string of each event
(the SDK builds unknown types as the wrong class when validation is lenient), and ignores types it does not
know, so a newer API does not break an older client. An event of a known type that lacks what the reader needs
from it (no `response` object, a `delta` that is not text: a lenient SDK passes such events through as they came)
is ignored the same way: the turn then ends with what did arrive, and never as completed on the word of an
event that carries no response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.events import (
    Citation,
    Event,
    ItemAdded,
    ItemDone,
    ResponseStarted,
    TextDelta,
    ToolCallProgress,
    Usage,
)

_LIFECYCLE = {"response.created", "response.queued", "response.in_progress"}
_TERMINAL_STATUS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}

# Streamed tool-call events that are not "<item type>.<status>": event type -> (tool item type, status).
_TOOL_DELTAS = {
    "response.code_interpreter_call_code.delta": ("code_interpreter_call", "code"),
    "response.code_interpreter_call_code.done": ("code_interpreter_call", "code_done"),
    "response.function_call_arguments.delta": ("function_call", "arguments"),
    "response.function_call_arguments.done": ("function_call", "arguments_done"),
    "response.mcp_call_arguments.delta": ("mcp_call", "arguments"),
    "response.mcp_call_arguments.done": ("mcp_call", "arguments_done"),
}


def as_dict(obj: Any) -> dict[str, Any]:
    """Wire JSON of an SDK model (only the fields the server sent) or a plain dict."""
    if isinstance(obj, dict):
        return obj
    if not hasattr(obj, "to_dict"):  # a lenient SDK keeps a malformed field as it came (None, a number, ...)
        raise MalformedEvent(f"expected an object, got {type(obj).__name__}")
    # warnings=False: a lenient SDK may have built an unknown shape as the wrong union member; the dump is
    # still the wire JSON, and the warning would only be noise.
    data: dict[str, Any] = obj.to_dict(mode="json", warnings=False)
    return data


def output_text(items: list[dict[str, Any]]) -> str:
    """The answer text of a list of output items, as the SDK's `Response.output_text` computes it."""
    return "".join(
        part.get("text", "")
        for item in items
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )


def usage_of(usage: dict[str, Any] | None) -> Usage:
    usage = _mapping(usage)
    return Usage(
        input_tokens=_count(usage.get("input_tokens")),
        cached_tokens=_count(_mapping(usage.get("input_tokens_details")).get("cached_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        reasoning_tokens=_count(_mapping(usage.get("output_tokens_details")).get("reasoning_tokens")),
    )


class MalformedEvent(ValueError):
    """An event of a known type without the fields the reader needs from it."""


@dataclass
class ResponseStreamReader:
    response_id: str | None = None
    model: str | None = None
    status: str | None = None  # completed | incomplete | failed once a terminal event arrived
    error: str | None = None
    incomplete_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    response: dict[str, Any] | None = None  # the final Response object
    _items: dict[int, dict[str, Any]] = field(default_factory=dict)
    _deltas: list[str] = field(default_factory=list)
    _done: set[int] = field(default_factory=set)

    @property
    def finished(self) -> bool:
        return self.status is not None

    @property
    def items(self) -> list[dict[str, Any]]:
        """Output items: the final response's list when it has one (it is authoritative: it may hold items
        whose `output_item.done` never came), else the items seen so far in output order."""
        output = self.response.get("output") if self.response else None
        if output and isinstance(output, list):
            return [item for item in output if isinstance(item, dict)]
        return [self._items[index] for index in sorted(self._items)]

    @property
    def finished_items(self) -> list[dict[str, Any]]:
        """Only the items whose `output_item.done` arrived: what a broken-off stream really delivered."""
        return [self._items[index] for index in sorted(self._done)]

    @property
    def text(self) -> str:
        if self.response is not None:
            return output_text(self.items)
        return "".join(self._deltas)

    def feed(self, event: Any) -> list[Event]:
        """Take one SSE event (SDK model or dict) and return the normalized events it produces; none for an
        event of a type it does not know or without the fields it needs."""
        try:
            return self._feed(event)
        except MalformedEvent:
            return []

    def _index_of(self, get: Callable[..., Any]) -> int:
        """The output index an event names; one that names none (a lenient server's) goes with the item that
        began last, so every event the thread and the app see has an index to place it by."""
        index = _number(get("output_index"))
        return index if index is not None else max(self._items, default=0)

    def _feed(self, event: Any) -> list[Event]:
        kind = event.get("type") if isinstance(event, dict) else getattr(event, "type", None)
        get = event.get if isinstance(event, dict) else lambda name, default=None: getattr(event, name, default)
        if not isinstance(kind, str):
            return []

        if kind == "response.output_text.delta":
            delta = _text(get("delta"))
            self._deltas.append(delta)
            return [TextDelta(text=delta, item_id=_string(get("item_id")) or "", output_index=self._index_of(get))]
        if kind in _LIFECYCLE or kind in _TERMINAL_STATUS:
            return self._lifecycle(kind, as_dict(get("response")))
        if kind == "response.output_item.added":
            item, index = as_dict(get("item")), _index(get("output_index"))
            self._items[index] = item
            return [ItemAdded(item=item, output_index=index)]
        if kind == "response.output_item.done":
            item, index = as_dict(get("item")), _index(get("output_index"))
            self._items[index] = item
            self._done.add(index)
            return [ItemDone(item=item, output_index=index)]
        if kind == "response.output_text.annotation.added":
            return [
                Citation(
                    item_id=_string(get("item_id")) or "",
                    output_index=self._index_of(get),
                    annotation=as_dict(get("annotation")),
                )
            ]
        if kind == "error":
            self._fail(_string(get("message")) or _nested_error_message(event), _string(get("code")))
            return []
        return self._tool_progress(kind, get)

    def _lifecycle(self, kind: str, response: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if self.response_id is None:
            self.response_id = _string(response.get("id"))
            self.model = _string(response.get("model"))
            events.append(ResponseStarted(response_id=self.response_id or "", model=self.model or ""))
        if kind not in _TERMINAL_STATUS:
            return events
        self.response = response
        self.status = _TERMINAL_STATUS[kind]
        self.model = _string(response.get("model")) or self.model
        self.usage = usage_of(response.get("usage"))
        if self.status == "failed":
            # An `error` event may have come first with the better message; keep it.
            self.error = self.error or _string(_mapping(response.get("error")).get("message")) or "the response failed"
        if self.status == "incomplete":
            self.incomplete_reason = _string(_mapping(response.get("incomplete_details")).get("reason"))
        events.append(self.usage)
        return events

    def _fail(self, message: str, code: str | None) -> None:
        self.error = f"{message} ({code})" if code else message

    def _tool_progress(self, kind: str, get: Any) -> list[Event]:
        tool_status = _TOOL_DELTAS.get(kind)
        if tool_status is None:
            # "response.web_search_call.searching" -> ("web_search_call", "searching")
            name, _, status = kind.removeprefix("response.").rpartition(".")
            if not name.endswith("_call"):
                return []
            tool_status = (name, status)
        tool, status = tool_status
        delta = get("delta") or get("code") or get("arguments") or ""
        return [
            ToolCallProgress(
                item_id=_string(get("item_id")) or "",
                output_index=_number(get("output_index")) or 0,
                tool=tool,
                status=status,
                delta=delta if isinstance(delta, str) else "",
            )
        ]


# Lenient readers of the fields that only inform the record (ids, counts, messages): a wrong type reads as absent,
# so nothing but text, numbers and plain objects ever reaches the index.
def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _count(value: Any) -> int:
    return _number(value) or 0


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise MalformedEvent(f"expected text, got {type(value).__name__}")
    return value


def _index(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEvent(f"expected an output index, got {type(value).__name__}")
    return value


def _nested_error_message(event: Any) -> str:
    error = event.get("error") if isinstance(event, dict) else getattr(event, "error", None)
    message = error.get("message") if isinstance(error, dict) else getattr(error, "message", None)
    return _string(message) or "the stream reported an error"
