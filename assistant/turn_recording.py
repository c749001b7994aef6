"""Records one turn in the index as its events arrive. The turn loop (assistant/turn_loop.py) owns the recorder:
it is the only caller of its methods, so every change to the recorded turn goes through one place.

The turn row and the user's message are written before the request goes out; the finished items and the text
so far once a second while a long answer streams; the row is closed with an honest status when the stream ends,
breaks off or is cancelled, keeping whatever text had arrived. The conversation id is saved the moment the server
creates it, so a crash later in the turn cannot orphan the conversation.

A turn whose model calls your functions runs in rounds (one response each) and stays one turn: the user's
message, then every round's output items and the function outputs that answered them, in order (outputs as
`output` items, function outputs as `input` items, since they are the next round's input), usage summed, the
last round's response id as the turn's. When a round ends in calls, `next_round` writes that round's final item
list and the outputs in one transaction, so a crash later in the turn keeps them.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from assistant.backends.backend import TurnRequest
from assistant.backends.response_stream import output_text
from assistant.events import (
    ConversationCreated,
    Event,
    FunctionResult,
    ItemDone,
    ResponseEnded,
    ResponseStarted,
    TextDelta,
    Usage,
)
from assistant.index.records import Lease
from assistant.index.store import IndexStore
from assistant.pricing import turn_cost
from assistant.turn import Turn

# What a long answer has delivered (its finished items, its text so far) is written this often while it streams,
# so a process killed mid-answer (which cannot close its turn) loses at most this much of it. A turn shorter than
# this writes only at its start and its close: two transactions, on the hot path of every answer.
SAVE_EVERY_S = 1.0


class TurnRecorder:
    def __init__(self, store: IndexStore, request: TurnRequest, *, backend: str, lease: Lease | None = None) -> None:
        """`lease`: the thread's lease the turn holds (chain mode), renewed by its progress and released when it
        closes."""
        self.store = store
        self.lease = lease
        self.request = request
        self.thread_id = request.thread.id
        self.model = request.model
        self.conversation_id = request.thread.conversation_id if request.thread.mode == "conversation" else None
        previous = request.thread.last_response_id if request.thread.mode == "chain" else None
        input_items = [request.input_item]
        self.turn_id, self.seq = store.begin_turn(
            thread_id=self.thread_id,
            input_text=request.input_text,
            input_items=input_items,
            model=request.model,
            backend=backend,
            mode=request.thread.mode,
            conversation_id=self.conversation_id,
            previous_response_id=previous,
        )
        self._output_base = len(input_items)  # item positions: inputs first, then outputs
        self._deltas: list[str] = []
        self.response_id: str | None = None
        self._response_id_pending = False
        self.usage = Usage()
        self.ended: ResponseEnded | None = None
        self.sent_at = time.perf_counter()
        self.ttft_ms: float | None = None
        self._saved_at = self.sent_at  # when the progress was last written
        self._round_items: list[tuple[int, dict[str, Any]]] = []  # this round's finished items
        self._items_saved = 0  # how many of them are written
        self.rounds = 1
        self._offset = 0  # items of this turn's earlier rounds after the user's message (outputs and function outputs)
        self._turn_items: list[dict[str, Any]] = []
        self._earlier_outputs: list[tuple[int, dict[str, Any]]] = []
        self._usage_before = Usage()
        self.function_results: dict[str, dict[str, Any]] = {}  # call id -> output, error, duration_ms

    def claim_conversation(self, conversation_id: str) -> str:
        """The conversation just created for this turn's thread becomes the thread's and the turn's, unless
        another process claimed one for the thread first; returns the one to use. Two processes taking a new
        thread's first turn at once then share one conversation, rather than each continuing one the other never
        sees."""
        return self.store.claim_conversation(self.thread_id, self.turn_id, conversation_id)

    def resend(self, request: TurnRequest, *, backend: str) -> None:
        """The turn is being sent again, with rebuilt server state or to another backend: it no longer
        continues the old ids."""
        self.request = request
        self.conversation_id = None
        self.store.update_turn(
            self.turn_id, conversation_id=None, previous_response_id=None, backend=backend, mode=request.thread.mode
        )

    def record(self, event: Event) -> None:
        match event:
            case TextDelta():
                now = time.perf_counter()
                if self.ttft_ms is None:
                    self.ttft_ms = (now - self.sent_at) * 1000
                    self._saved_at = now
                self._deltas.append(event.text)
                if now - self._saved_at >= SAVE_EVERY_S:
                    self._save_progress(now)
            case ItemDone():
                position = self._output_base + event.output_index  # (turn-indexed)
                self._round_items.append((position, event.item))
                now = time.perf_counter()
                if now - self._saved_at >= SAVE_EVERY_S:
                    self._save_progress(now)
            case ResponseStarted():
                self.response_id = event.response_id
                self.model = event.model or self.model
                self._response_id_pending = True  # written with the next save, or at close
            case ConversationCreated():
                # Recorded for the thread and the turn already, by `claim_conversation` above.
                self.conversation_id = event.conversation_id
            case Usage():
                self.usage = _added(self._usage_before, event)
            case FunctionResult():
                self.function_results[event.call_id] = {
                    "output": event.output,
                    "error": event.error,
                    "duration_ms": event.duration_ms,
                }
            case ResponseEnded():
                self.ended = event

    def out_of_rounds(self, max_rounds: int) -> None:
        """The model was told to answer without more calls and still called: the turn ends incomplete."""
        assert self.ended is not None
        self.ended = replace(
            self.ended,
            status="incomplete",
            incomplete_reason="max_function_rounds",
            error=f"the model kept calling functions after {max_rounds} rounds",
        )

    def _save_progress(self, now: float) -> None:
        """Write what the stream has delivered so far: finished items, the text, the response id."""
        values: dict[str, Any] = {"output_text": "".join(self._deltas)}
        if self._response_id_pending:
            values["response_id"] = self.response_id
            self._response_id_pending = False
        self.store.save_progress(self.turn_id, self._round_items[self._items_saved :], lease=self.lease, **values)
        self._items_saved = len(self._round_items)
        self._saved_at = now

    @property
    def position_offset(self) -> int:
        """How far this round's output indexes are from the turn's: the items of the earlier rounds."""
        return self._offset

    def next_round(self, function_outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The round that just ended asked for function calls, answered by `function_outputs`: settle the round
        in the index and start the next. Returns every item of the turn after the user's message so far."""
        assert self.ended is not None
        items = self.ended.items
        start = self._output_base + self._offset
        outputs = [(start + index, item) for index, item in enumerate(items)]
        inputs = [(start + len(items) + index, item) for index, item in enumerate(function_outputs)]
        self.rounds += 1
        self.store.settle_round(
            self.turn_id,
            from_position=start,
            outputs=outputs,
            inputs=inputs,
            response_id=self.response_id,
            rounds=self.rounds,
        )
        self._earlier_outputs += outputs
        self._turn_items += [*items, *function_outputs]
        self._offset = len(self._turn_items)
        self._usage_before = self.usage
        self._response_id_pending = False
        self._deltas = []
        self._round_items, self._items_saved = [], 0  # the settled round's final list replaced them
        self.ended = None
        return list(self._turn_items)

    def close(self, status: str | None = None, error: str | None = None, *, request_bytes: int = 0) -> Turn:
        """Close the turn. `status` overrides the backend's (cancelled, failed on an exception); `request_bytes`
        is what the turn's requests weighed on the wire (assistant/metering.py)."""
        ended = self.ended
        status = status or (ended.status if ended else "incomplete")
        error = error or (ended.error if ended else None)
        items = ended.items if ended else []
        # The final item list is authoritative when the response finished; otherwise keep the deltas. The
        # turn's text is its last round's answer (what the user asked for); earlier rounds' words stay in items.
        text = output_text(items) if ended and ended.status in ("completed", "incomplete") and items else ""
        text = text or "".join(self._deltas)
        finished = ended is not None and ended.status in ("completed", "incomplete", "failed") and bool(items)
        start = self._output_base + self._offset
        this_round = list(enumerate(items, start)) if finished else self._round_items
        final_items = [*self._earlier_outputs, *this_round]
        items = [item for _, item in final_items]
        tool_calls: dict[str, int] = {}
        for item in items:
            if item.get("type", "").endswith("_call"):
                tool_calls[item["type"]] = tool_calls.get(item["type"], 0) + 1
        thread_values: dict[str, Any] = {}
        if self.response_id and status in ("completed", "incomplete") and ended is not None:
            thread_values["last_response_id"] = self.response_id
        self.store.close_turn(
            self.turn_id,
            thread_id=self.thread_id,
            thread_values=thread_values,
            final_items=final_items,
            function_results=self.function_results,
            lease=self.lease,
            status=status,
            response_id=self.response_id,
            output_text=text,
            error=error,
            incomplete_reason=ended.incomplete_reason if ended and status == "incomplete" else None,
            model=self.model,
            request_bytes=request_bytes,
            ttft_ms=self.ttft_ms,
            latency_ms=(time.perf_counter() - self.sent_at) * 1000,
            input_tokens=self.usage.input_tokens,
            cached_tokens=self.usage.cached_tokens,
            output_tokens=self.usage.output_tokens,
            reasoning_tokens=self.usage.reasoning_tokens,
            cost_usd=turn_cost(
                self.model, self.usage.input_tokens, self.usage.cached_tokens, self.usage.output_tokens, tool_calls
            ),
            rounds=self.rounds,
            output_format=json.dumps(self.request.text_format) if self.request.text_format else None,
        )
        return self.store.turn(self.turn_id)


def _added(before: Usage, more: Usage) -> Usage:
    if before == Usage():
        return more
    return Usage(
        input_tokens=before.input_tokens + more.input_tokens,
        cached_tokens=before.cached_tokens + more.cached_tokens,
        output_tokens=before.output_tokens + more.output_tokens,
        reasoning_tokens=before.reasoning_tokens + more.reasoning_tokens,
    )
