"""The Chat Completions fallback backend: `chat.completions.create(stream=True)` per round, state on the client.

Every turn sends the whole conversation as messages, rebuilt from the thread's history as the index recorded
it (Responses-shaped items): the instructions as the system message, user and assistant messages, function
calls and their outputs as `tool_calls` / `tool` messages, earlier hosted-tool calls as the function calls and
outputs the model saw; reasoning items have no Chat form and are left out. The rebuilding is `assistant.migrate`
(the same mapping `assistant migrate --reverse` prints), applied to the Responses request each round stands for.
Usage is asked for with `stream_options.include_usage`.

Hosted tools (web search, file search, code interpreter) are offered as function tools and run here, on the
client, by the same runtimes as the local server (`local_tools.py`, `chat_tools.py`), in a bounded loop: while
the model answers with calls of them, run them, append the calls and outputs, and ask again, at most
`MAX_TOOL_ROUNDS` completions per turn (the last is offered no hosted tools, so it has to answer). The user's own
function tools are passed through untouched: a round that calls them ends the turn with the calls as items, as a
Responses turn does, for whoever runs them.

The events are the Responses backend's (chat_stream.py, chat_turn.py), so the thread, the index and `compare`
never branch on the backend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from assistant.backends.base import TurnRequest
from assistant.backends.chat_stream import ChatStreamReader
from assistant.backends.chat_tools import HostedToolRunner
from assistant.backends.chat_turn import ChatTurn
from assistant.backends.local_tools import LocalToolRuntimes
from assistant.backends.responses import Clients
from assistant.events import Event
from assistant.migrate import responses_to_chat

logger = logging.getLogger(__name__)

# Completions per turn at most: enough for search-then-compute chains, few enough that a model stuck in a
# loop of calls stops soon.
MAX_TOOL_ROUNDS = 8


class ChatBackend:
    name = "chat"

    def __init__(self, clients: Clients, local_tools: LocalToolRuntimes | None = None) -> None:
        """`local_tools` runs hosted tools; without it a turn that asks for them offers none."""
        self.clients = clients
        self.local_tools = local_tools

    def _turn(self, request: TurnRequest) -> ChatTurn:
        runner = HostedToolRunner(self.local_tools, request) if self.local_tools and request.tools else None
        return ChatTurn(request if runner else _without_hosted_tools(request), runner)

    def stream(self, request: TurnRequest) -> Iterator[Event]:
        turn = self._turn(request)
        exhausted = False
        for round_number in range(1, MAX_TOOL_ROUNDS + 1):
            turn.begin_round()
            reader = ChatStreamReader()
            params = round_params(turn, offer_tools=round_number < MAX_TOOL_ROUNDS)
            with self.clients.client.chat.completions.create(**params) as chunks:
                for chunk in chunks:
                    yield from turn.feed(reader.feed(chunk))
            yield from turn.feed(reader.ended())
            if not turn.runs_tools:
                break
            if round_number == MAX_TOOL_ROUNDS:
                exhausted = True
                break
            assert turn.runner is not None
            for call in turn.pending:
                yield from turn.runner.started(call)
                outcome = turn.runner.execute(call)
                turn.tool_done(call, outcome)
                yield from turn.runner.finished(call, outcome)
            if not turn.asks_again:
                break
        yield from turn.ended(rounds_exhausted=exhausted)

    async def astream(self, request: TurnRequest) -> AsyncIterator[Event]:
        turn = self._turn(request)
        exhausted = False
        for round_number in range(1, MAX_TOOL_ROUNDS + 1):
            turn.begin_round()
            reader = ChatStreamReader()
            params = round_params(turn, offer_tools=round_number < MAX_TOOL_ROUNDS)
            async with await self.clients.async_client.chat.completions.create(**params) as chunks:
                async for chunk in chunks:
                    for event in turn.feed(reader.feed(chunk)):
                        yield event
            for event in turn.feed(reader.ended()):
                yield event
            if not turn.runs_tools:
                break
            if round_number == MAX_TOOL_ROUNDS:
                exhausted = True
                break
            assert turn.runner is not None
            for call in turn.pending:
                for event in turn.runner.started(call):
                    yield event
                outcome = await asyncio.to_thread(turn.runner.execute, call)  # the tools block
                turn.tool_done(call, outcome)
                for event in turn.runner.finished(call, outcome):
                    yield event
            if not turn.asks_again:
                break
        for event in turn.ended(rounds_exhausted=exhausted):
            yield event


def chat_params(request: TurnRequest) -> dict[str, Any]:
    """The `chat.completions.create` arguments of a turn's first round."""
    return round_params(ChatTurn(request, None), offer_tools=True)


def round_params(turn: ChatTurn, *, offer_tools: bool) -> dict[str, Any]:
    """The `chat.completions.create` arguments for one round: the Responses request it stands for, translated."""
    translation = responses_to_chat(turn.responses_request(offer_tools=offer_tools))
    for warning in translation.warnings:
        logger.info("chat backend, thread %s: %s", turn.request.thread.id, warning)
    return translation.request


def _without_hosted_tools(request: TurnRequest) -> TurnRequest:
    from dataclasses import replace

    from assistant.backends.chat_tools import hosted_kind

    return replace(request, tools=[tool for tool in request.tools if hosted_kind(tool) is None])
