"""A response's SSE event log as the store keeps it: only what the stored response does not already say.

`GET /responses/{id}?stream=true` replays the very events the client was sent. Kept in full, a log repeats its
response several times over: `response.created` and `.in_progress` carry the Response with a few fields still
unset, the terminal event carries all of it, `output_text.done` / `content_part.done` / `output_item.done` repeat
the whole text, and every delta is an event of its own around a slice of that text (a 10 KB answer in words
made a 330 KB log; stored as below, under 1 KB). So each event is stored as a *residual* against the final
Response (its output included):

- a field equal to what the Response gives is a reference: `{"$ref": "item"}` (the output item at the event's
  `output_index`), `"part"` (its content part at `content_index`), `"item_id"`, `"text"`, `"arguments"`, `"code"`;
- a `response` is `{"$ref": "response", "set": {changed fields}, "drop": [fields it did not have yet]}`;
- a `delta` that is the next slice of its item's text (per event type, item and part) is `{"$ref": "delta"}`
  plus its length; an `obfuscation` equal to the one the response's seed derives (`sse.obfuscation`) is
  `{"$ref": "obfuscation"}`;
- anything else stays as it was, so an event this module knows nothing about is still replayed as sent.

Consecutive events with the same residual (the run of deltas of one text) are one entry with one length each,
and the entries are stored zlib-compressed. `encode` checks that `decode` gives back the log exactly (as JSON,
key order included) and stores the plain log when it would not.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

from .sse import Event, obfuscation

Item = dict[str, Any]

_REF = "$ref"
_MISSING = object()
# Fields an event may repeat from its output item, or from the item's content part at `content_index`.
_ITEM_FIELDS = ("arguments", "code")
_PART_FIELDS = ("text",)
# Where each kind of delta comes from: the deltas of one source, in order, add up to its text.
_DELTA_SOURCES: dict[str, Callable[[Item | None, Item | None], Any]] = {
    "response.output_text.delta": lambda item, part: part and part.get("text"),
    "response.refusal.delta": lambda item, part: part and part.get("refusal"),
    "response.function_call_arguments.delta": lambda item, part: item and item.get("arguments"),
    "response.code_interpreter_call_code.delta": lambda item, part: item and item.get("code"),
}


def encode(events: list[Event], response: dict[str, Any], seed: str | None) -> bytes:
    """The log to store, given the Response as stored with it and the seed its obfuscation was derived from."""
    packed: dict[str, Any] | None = None
    entries = _entries(events, response, seed)
    if entries is not None:
        packed = {"seed": seed, "entries": entries}
        if _json(_unpack(packed, response)) != _json(events):
            packed = None
    return zlib.compress(_json(packed if packed is not None else {"events": events}).encode())


def decode(stored: bytes, response: dict[str, Any]) -> list[Event]:
    """The events as they were sent; `response` is the Response stored with the log."""
    return _unpack(json.loads(zlib.decompress(stored)), response)


def rebased(stored: bytes, old_response: dict[str, Any], new_response: dict[str, Any]) -> bytes:
    """The stored log of a response whose stored body changes from `old_response` to `new_response` (a
    response failed after a restart): the same events, now said against the new body."""
    packed = json.loads(zlib.decompress(stored))
    return encode(_unpack(packed, old_response), new_response, packed.get("seed"))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Anchor:
    """What an event may refer to: the output item at its `output_index` and that item's content part at its
    `content_index` (either may be missing)."""

    def __init__(self, event: Event, output: list[Any]) -> None:
        index = event.get("output_index")
        item = output[index] if type(index) is int and 0 <= index < len(output) else None
        self.item: Item | None = item if isinstance(item, dict) else None
        index = event.get("content_index")
        content = self.item.get("content") if self.item is not None else None
        part = (
            content[index] if type(index) is int and isinstance(content, list) and 0 <= index < len(content) else None
        )
        self.part: Item | None = part if isinstance(part, dict) else None
        kind = event.get("type")
        source = _DELTA_SOURCES.get(kind) if isinstance(kind, str) else None
        text = source(self.item, self.part) if source is not None else None
        # The text this event's deltas are slices of, and the key its cursor is kept under.
        self.delta_text: str | None = text if isinstance(text, str) else None
        self.cursor_key = (event.get("type"), event.get("output_index"), event.get("content_index"))

    def derived(self, key: str) -> tuple[bool, Any]:
        """(True, value) when the field `key` can be read off the Response."""
        item, part = self.item, self.part
        if key == "item" and item is not None:
            return True, item
        if key == "part" and part is not None:
            return True, part
        if key == "item_id" and item is not None and "id" in item:
            return True, item["id"]
        if key in _ITEM_FIELDS and item is not None and key in item:
            return True, item[key]
        if key in _PART_FIELDS and part is not None and key in part:
            return True, part[key]
        return False, None


def _output(response: dict[str, Any]) -> list[Any]:
    output = response.get("output")
    return output if isinstance(output, list) else []


def _entries(events: list[Event], response: dict[str, Any], seed: str | None) -> list[list[Any]] | None:
    output = _output(response)
    cursors: dict[tuple[Any, ...], int] = {}
    entries: list[list[Any]] = []
    last_residual = ""
    for position, event in enumerate(events):
        if (
            not isinstance(event, dict)
            or event.get("sequence_number") != position
            or next(reversed(event)) != "sequence_number"
        ):
            return None  # not a log this server wrote: kept as it is
        anchor = _Anchor(event, output)
        residual: dict[str, Any] = {}
        length = 0
        for key, value in event.items():
            if key == "sequence_number":
                continue
            if key == "response" and isinstance(value, dict):
                residual[key] = {
                    _REF: "response",
                    "set": {k: v for k, v in value.items() if response.get(k, _MISSING) != v},
                    "drop": [k for k in response if k not in value],
                }
                continue
            if key == "delta" and isinstance(value, str) and value and anchor.delta_text is not None:
                cursor = cursors.get(anchor.cursor_key, 0)
                if anchor.delta_text.startswith(value, cursor):
                    cursors[anchor.cursor_key] = cursor + len(value)
                    residual[key], length = {_REF: "delta"}, len(value)
                    continue
            if (
                key == "obfuscation"
                and seed is not None
                and isinstance(event.get("delta"), str)
                and value == obfuscation(seed, position, event["delta"])
            ):
                residual[key] = {_REF: "obfuscation"}
                continue
            derivable, derived = anchor.derived(key)
            residual[key] = {_REF: key} if derivable and derived == value else value
        text = _json(residual)
        if entries and text == last_residual:
            entries[-1][1].append(length)
        else:
            entries.append([residual, [length]])
            last_residual = text
    return entries


def _unpack(packed: dict[str, Any], response: dict[str, Any]) -> list[Event]:
    if "events" in packed:
        stored: list[Event] = packed["events"]
        return stored
    seed = packed["seed"]
    output = _output(response)
    cursors: dict[tuple[Any, ...], int] = {}
    events: list[Event] = []
    for residual, lengths in packed["entries"]:
        # The plain fields say where the references point (type, output_index, content_index); the key order
        # stays the residual's.
        anchor = _Anchor({key: value for key, value in residual.items() if not _is_ref(value)}, output)
        refs = [(key, value[_REF]) for key, value in residual.items() if _is_ref(value)]
        for length in lengths:
            event: Event = dict(residual)
            for key, kind in refs:
                if kind == "response":
                    event[key] = _snapshot(response, residual[key])
                elif kind == "delta":
                    if anchor.delta_text is None:
                        raise ValueError("a stored delta has no text to be a slice of")
                    cursor = cursors.get(anchor.cursor_key, 0)
                    cursors[anchor.cursor_key] = cursor + length
                    event[key] = anchor.delta_text[cursor : cursor + length]
                elif kind != "obfuscation":
                    event[key] = anchor.derived(kind)[1]
            if "obfuscation" in event and _is_ref(event["obfuscation"]):  # derived from the delta, known by now
                event["obfuscation"] = obfuscation(seed, len(events), event["delta"])
            event["sequence_number"] = len(events)
            events.append(event)
    return events


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and _REF in value


def _snapshot(response: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """The Response as an earlier event showed it: the stored one with some fields changed or not there yet."""
    snapshot = {key: ref["set"].get(key, value) for key, value in response.items() if key not in ref["drop"]}
    snapshot.update({key: value for key, value in ref["set"].items() if key not in response})
    return snapshot
