"""One Chat-mode turn across its tool rounds, told as one Responses turn.

A Chat turn with hosted tools is several completions: the model calls a tool, the client runs it, the model is
asked again with the result. The Responses API does the same inside one response. `ChatTurn` takes the events
of each round (from `ChatStreamReader`) and makes them one turn's events, as the Responses backend would emit:

- one `ResponseStarted` (the first completion's id names the turn);
- output indexes that run on across rounds;
- the model's function calls of hosted tools are swallowed and replaced by the hosted items the runner makes
  (`web_search_call`, ...); the user's own function calls pass through untouched, and end the loop, so whoever
  runs them (the thread) gets them as a Responses turn would return them;
- citations found in each answer message (chat_citations.py), as `Citation` events before its `ItemDone`, and as
  annotations on the message;
- one `Usage`, the sum over every round (the Responses API also reports a whole response's usage), then one
  `ResponseEnded` with every finished item.

It holds no connection: `ChatBackend` runs the rounds and the tools, and feeds it.
"""

from __future__ import annotations

from typing import Any

from assistant.backends.backend import TurnRequest
from assistant.backends.chat_citations import CitationSources, citations_in
from assistant.backends.chat_tools import (
    HostedCall,
    HostedToolRunner,
    Outcome,
    function_tools,
    is_hosted_call,
    replayable,
)
from assistant.events import Citation, Event, ItemAdded, ItemDone, ResponseEnded, ResponseStarted, TextDelta, Usage

Item = dict[str, Any]


class ChatTurn:
    def __init__(self, request: TurnRequest, runner: HostedToolRunner | None) -> None:
        self.request = request
        self.runner = runner
        self.rounds = 0
        self.response_id: str | None = None
        self.items: dict[int, Item] = {}  # turn output index -> finished item
        # What this turn adds to the model's context, in Responses form: answer messages, hosted calls and outputs.
        self.transcript: list[Item] = []
        self.sources = CitationSources()
        self.pending: list[HostedCall] = []  # hosted calls of the current round, to run
        self.user_calls = 0  # the user's own function calls in the current round
        self.called = False  # whether any round called a tool (hosted or the user's own)
        self.round_end: ResponseEnded | None = None
        self._usage = Usage()
        self._next_index = 0
        self._indexes: dict[int, int] = {}  # this round's output index -> the turn's

    def responses_request(self, *, offer_tools: bool) -> Item:
        """The Responses request this round stands for (the backend translates it into Chat)."""
        request = self.request
        body: Item = {
            "model": request.model,
            # turn_items: this turn's items from earlier function-call rounds, run by the thread (issue #9).
            "input": [
                *replayable(request.history),
                request.input_item,
                *replayable(request.turn_items),
                *self.transcript,
            ],
            "stream": True,
        }
        if request.instructions:
            body["instructions"] = request.instructions
        body.update({key: value for key, value in request.options.items() if value is not None})
        tools = [*(function_tools(request) if offer_tools else []), *request.functions]
        if tools:
            body["tools"] = tools
        if request.text_format is not None:
            body["text"] = {"format": request.text_format}
        return body

    def begin_round(self) -> None:
        self.rounds += 1
        self.pending = []
        self.user_calls = 0
        self.round_end = None
        self._indexes = {}

    @property
    def runs_tools(self) -> bool:
        """Whether the round just read ended in hosted tool calls to run."""
        return bool(self.pending) and self.round_end is not None and self.round_end.status == "completed"

    @property
    def asks_again(self) -> bool:
        """Whether, once the tools ran, the model must be asked again: not when the user's own functions were
        called too (their outputs come from whoever runs them, in a later request)."""
        return self.runs_tools and self.user_calls == 0

    def feed(self, events: list[Event]) -> list[Event]:
        """One round's events in, the turn's events out."""
        out: list[Event] = []
        for event in events:
            if isinstance(event, ResponseStarted):
                if self.response_id is None:
                    self.response_id = event.response_id
                    out.append(event)
            elif isinstance(event, TextDelta):
                out.append(
                    TextDelta(text=event.text, item_id=event.item_id, output_index=self._index(event.output_index))
                )
            elif isinstance(event, ItemAdded):
                if is_hosted_call(event.item, self.request):
                    continue  # becomes a hosted item once it is complete
                self._indexes[event.output_index] = self._take_index()
                out.append(ItemAdded(item=event.item, output_index=self._indexes[event.output_index]))
            elif isinstance(event, ItemDone):
                out += self._item_done(event)
            elif isinstance(event, Usage):
                self._usage = Usage(
                    input_tokens=self._usage.input_tokens + event.input_tokens,
                    cached_tokens=self._usage.cached_tokens + event.cached_tokens,
                    output_tokens=self._usage.output_tokens + event.output_tokens,
                    reasoning_tokens=self._usage.reasoning_tokens + event.reasoning_tokens,
                )
            elif isinstance(event, ResponseEnded):
                self.round_end = event
            else:
                out.append(event)
        return out

    def _item_done(self, event: ItemDone) -> list[Event]:
        item = event.item
        if item.get("type") == "function_call":
            self.called = True
        if is_hosted_call(item, self.request):
            assert self.runner is not None  # hosted calls are only recognised when tools were offered
            self.pending.append(
                self.runner.new_call(
                    item.get("call_id") or "", item["name"], item.get("arguments") or "", self._take_index()
                )
            )
            self.transcript.append(
                {
                    "type": "function_call",
                    "call_id": item.get("call_id"),
                    "name": item["name"],
                    "arguments": item.get("arguments") or "",
                }
            )
            return []
        index = self._index(event.output_index)
        events: list[Event] = []
        if item.get("type") == "message":
            item, citations = self._cited(item)
            events += [Citation(item_id=item["id"], output_index=index, annotation=note) for note in citations]
            self.transcript.append(item)
        elif item.get("type") == "function_call":
            self.user_calls += 1
        self.items[index] = item
        return [*events, ItemDone(item=item, output_index=index)]

    def _cited(self, message: Item) -> tuple[Item, list[Item]]:
        content = [dict(part) for part in message.get("content") or []]
        found: list[Item] = []
        for part in content:
            if part.get("type") == "output_text":
                part["annotations"] = citations_in(part.get("text") or "", self.sources)
                found += part["annotations"]
        return {**message, "content": content}, found

    def tool_done(self, call: HostedCall, outcome: Outcome) -> None:
        """Take a hosted call's result: its item, its output for the model, what the answer may cite."""
        self.items[call.output_index] = outcome.item
        self.transcript.append({"type": "function_call_output", "call_id": call.call_id, "output": outcome.output})
        self.sources.pages.update(outcome.sources.pages)
        self.sources.files.update(outcome.sources.files)
        self.sources.container_files.update(outcome.sources.container_files)

    def ended(self, *, rounds_exhausted: bool = False) -> list[Event]:
        """The turn's closing events: the summed usage, then how it ended with every finished item."""
        items = [self.items[index] for index in sorted(self.items)]
        end = self.round_end
        if end is None:  # no round finished reading (cannot happen unless the stream raised)
            end = ResponseEnded(status="incomplete", items=[], incomplete_reason="stream_interrupted")
        if rounds_exhausted:
            ending = ResponseEnded(
                status="incomplete",
                items=items,
                incomplete_reason="max_tool_rounds",
                error="the model kept calling tools past the limit of rounds",
            )
        else:
            ending = ResponseEnded(
                status=end.status, items=items, error=end.error, incomplete_reason=end.incomplete_reason
            )
        return [self._usage, ending]

    def _index(self, round_index: int) -> int:
        if round_index not in self._indexes:
            self._indexes[round_index] = self._take_index()
        return self._indexes[round_index]

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index
