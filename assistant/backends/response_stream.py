"""Rebuild a turn from the Responses API's SSE events and translate them into normalized events.

The reader is pure: it holds no connection and does no I/O, so the sync and async backends share it, and the
recordings in shared/recordings/ can be replayed through it. It dispatches on the `type` string of each event
(the SDK builds unknown types as the wrong class when validation is lenient), and ignores types it does not
know, so a newer API does not break an older client.
"""

from __future__ import annotations

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
    # warnings=False: a lenient SDK may have built an unknown shape as the wrong union member; the dump is
    # still the wire JSON, and the warning would only be noise.
    return obj.to_dict(mode="json", warnings=False)


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
    if not usage:
        return Usage()
    return Usage(
        input_tokens=usage.get("input_tokens") or 0,
        cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


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
        if self.response and self.response.get("output"):
            return list(self.response["output"])
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
        """Take one SSE event (SDK model or dict) and return the normalized events it produces."""
        kind = event["type"] if isinstance(event, dict) else event.type
        get = event.get if isinstance(event, dict) else lambda name, default=None: getattr(event, name, default)

        if kind == "response.output_text.delta":
            delta = get("delta")
            self._deltas.append(delta)
            return [TextDelta(text=delta, item_id=get("item_id"), output_index=get("output_index"))]
        if kind in _LIFECYCLE or kind in _TERMINAL_STATUS:
            return self._lifecycle(kind, as_dict(get("response")))
        if kind == "response.output_item.added":
            item = as_dict(get("item"))
            self._items[get("output_index")] = item
            return [ItemAdded(item=item, output_index=get("output_index"))]
        if kind == "response.output_item.done":
            item = as_dict(get("item"))
            self._items[get("output_index")] = item
            self._done.add(get("output_index"))
            return [ItemDone(item=item, output_index=get("output_index"))]
        if kind == "response.output_text.annotation.added":
            return [
                Citation(
                    item_id=get("item_id"),
                    output_index=get("output_index"),
                    annotation=as_dict(get("annotation")),
                )
            ]
        if kind == "error":
            self._fail(get("message") or _nested_error_message(event), get("code"))
            return []
        return self._tool_progress(kind, get)

    def _lifecycle(self, kind: str, response: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if self.response_id is None:
            self.response_id = response.get("id")
            self.model = response.get("model")
            events.append(ResponseStarted(response_id=self.response_id or "", model=self.model or ""))
        if kind not in _TERMINAL_STATUS:
            return events
        self.response = response
        self.status = _TERMINAL_STATUS[kind]
        self.model = response.get("model") or self.model
        self.usage = usage_of(response.get("usage"))
        if self.status == "failed":
            error = response.get("error") or {}
            # An `error` event may have come first with the better message; keep it.
            self.error = self.error or error.get("message") or "the response failed"
        if self.status == "incomplete":
            self.incomplete_reason = (response.get("incomplete_details") or {}).get("reason")
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
                item_id=get("item_id") or "",
                output_index=get("output_index") or 0,
                tool=tool,
                status=status,
                delta=delta if isinstance(delta, str) else "",
            )
        ]


def _nested_error_message(event: Any) -> str:
    error = event.get("error") if isinstance(event, dict) else getattr(event, "error", None)
    if isinstance(error, dict):
        return error.get("message") or "the stream reported an error"
    return getattr(error, "message", None) or "the stream reported an error"
