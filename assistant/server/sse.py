"""Responses API server-sent events: building them in the recorded order, and putting them on the wire.

Recorded grammar for a text answer (llm test_responses_basic_streaming, and every other recorded text stream):

    response.created > response.in_progress > response.output_item.added(message) >
    response.content_part.added(output_text) > response.output_text.delta+ > response.output_text.done >
    response.content_part.done(output_text) > response.output_item.done(message) >
    response.completed | response.incomplete

Background streams open with response.created(queued) > response.queued > response.in_progress. Every event
carries a `sequence_number` counting from 0 with no gaps; exactly one terminal event ends the stream; there is
no `[DONE]` (that is Chat Completions).
"""

from __future__ import annotations

import copy
import hashlib
import json
import string
from typing import Any

Event = dict[str, Any]

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
SSE_MEDIA_TYPE = "text/event-stream; charset=utf-8"

_OBFUSCATION_ALPHABET = string.ascii_letters + string.digits


def obfuscation(seed: str, sequence_number: int, delta: str) -> str:
    """The padding of a delta event. The real API pads deltas with random characters so that packet sizes do
    not reveal token lengths; here they are drawn from the response's random `seed` and the event's number, so a
    replay gives back the same padding without the server storing it (replay_log.py)."""
    digest = hashlib.blake2b(f"{seed}:{sequence_number}".encode(), digest_size=16).digest()
    length = max(2, 16 - len(delta))
    return "".join(_OBFUSCATION_ALPHABET[byte % len(_OBFUSCATION_ALPHABET)] for byte in digest[:length])


class EventSequencer:
    """Numbers events in order. Response and item payloads are copied so later mutation can't rewrite history."""

    def __init__(self) -> None:
        self.next_sequence = 0

    def event(self, event_type: str, **fields: Any) -> Event:
        event: Event = {"type": event_type, **copy.deepcopy(fields), "sequence_number": self.next_sequence}
        self.next_sequence += 1
        return event


class MessageEvents:
    """The events of one assistant `message` item with one `output_text` part, in recorded order and shape."""

    def __init__(
        self, sequencer: EventSequencer, item_id: str, output_index: int, obfuscation_seed: str | None
    ) -> None:
        """`obfuscation_seed`: the response's seed for delta padding, None when the client turned it off."""
        self._seq = sequencer
        self.item_id = item_id
        self.output_index = output_index
        self._obfuscation_seed = obfuscation_seed
        self.text = ""
        self.annotations: list[dict[str, Any]] = []

    def item(self, status: str) -> dict[str, Any]:
        content = [] if status == "in_progress" else [self.part()]
        return {
            "id": self.item_id,
            "type": "message",
            "status": status,
            "content": content,
            "phase": "final_answer",
            "role": "assistant",
        }

    def part(self) -> dict[str, Any]:
        return {"type": "output_text", "annotations": list(self.annotations), "logprobs": [], "text": self.text}

    def opening(self) -> list[Event]:
        return [
            self._seq.event(
                "response.output_item.added", item=self.item("in_progress"), output_index=self.output_index
            ),
            self._seq.event(
                "response.content_part.added",
                content_index=0,
                item_id=self.item_id,
                output_index=self.output_index,
                part={"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
            ),
        ]

    def delta(self, text: str) -> Event:
        self.text += text
        fields: dict[str, Any] = {
            "content_index": 0,
            "delta": text,
            "item_id": self.item_id,
            "logprobs": [],
        }
        if self._obfuscation_seed is not None:
            fields["obfuscation"] = obfuscation(self._obfuscation_seed, self._seq.next_sequence, text)
        return self._seq.event("response.output_text.delta", **fields, output_index=self.output_index)

    def annotation(self, annotation: dict[str, Any]) -> Event:
        """A citation on the text so far; recorded between deltas, always before output_text.done."""
        self.annotations.append(dict(annotation))
        return self._seq.event(
            "response.output_text.annotation.added",
            item_id=self.item_id,
            output_index=self.output_index,
            content_index=0,
            annotation_index=len(self.annotations) - 1,
            annotation=annotation,
        )

    def closing(self, status: str) -> list[Event]:
        return [
            self._seq.event(
                "response.output_text.done",
                content_index=0,
                item_id=self.item_id,
                logprobs=[],
                output_index=self.output_index,
                text=self.text,
            ),
            self._seq.event(
                "response.content_part.done",
                content_index=0,
                item_id=self.item_id,
                output_index=self.output_index,
                part=self.part(),
            ),
            self._seq.event("response.output_item.done", item=self.item(status), output_index=self.output_index),
        ]


def encode_event(event: Event) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def without_obfuscation(event: Event) -> Event:
    if "obfuscation" not in event:
        return event
    return {key: value for key, value in event.items() if key != "obfuscation"}
