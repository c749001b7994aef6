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

What goes on the wire is what every Chat Completions server takes, not only OpenAI's (`wire_request`): llama.cpp,
llama-cpp-python, Ollama, vLLM and LM Studio serve this API through the model's chat template, which fails on
anything but plain-string contents. Tools a server refuses are not sent to it again, and the user is told once
which tools could not be offered (chat_tool_support.py). A stream that closes before saying anything gives no
reason: the same round is asked for once more without streaming, which returns either the answer or the server's
error (llama-cpp-python's server, for one, closes the stream empty when the model calls a tool: it cannot stream
that). A stream that closes after some of the answer ends the turn incomplete, saying so (chat_stream.py).

The events are the Responses backend's (chat_stream.py, chat_turn.py), so the thread, the index and `compare`
never branch on the backend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionChunk

from assistant.backends.backend import TurnRequest
from assistant.backends.chat_stream import ChatStreamReader, completion_chunk
from assistant.backends.chat_tool_support import ToolSupport, refuses_tools, tool_names
from assistant.backends.chat_tools import HostedCall, HostedToolRunner, hosted_kind
from assistant.backends.chat_turn import ChatTurn
from assistant.backends.responses import Clients
from assistant.backends.tool_runtimes import LocalToolRuntimes
from assistant.effects import Effect, Steps, adrive, drive
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
        self.tool_support = ToolSupport()

    def _turn(self, request: TurnRequest) -> ChatTurn:
        runner = HostedToolRunner(self.local_tools, request) if self.local_tools and request.tools else None
        return ChatTurn(request if runner else _without_hosted_tools(request), runner)

    def stream(self, request: TurnRequest) -> Generator[Event, None, None]:
        client = self.clients.client
        return drive(self._steps(request, str(client.base_url).rstrip("/")), _PlainCalls(client).perform)

    def astream(self, request: TurnRequest) -> AsyncGenerator[Event, None]:
        client = self.clients.async_client
        return adrive(self._steps(request, str(client.base_url).rstrip("/")), _Awaits(client).perform)

    # the turn, written once for both (assistant/effects.py): its rounds, and the hosted tools between them

    def _steps(self, request: TurnRequest, server: str) -> Steps:
        turn = self._turn(request)
        offered: list[str] = []
        exhausted = False
        for round_number in range(1, MAX_TOOL_ROUNDS + 1):
            turn.begin_round()
            params = round_params(turn, offer_tools=round_number < MAX_TOOL_ROUNDS, server=server)
            offered = offered or tool_names(params)
            yield from self._round(turn, params, server)
            if not turn.runs_tools:
                break
            if round_number == MAX_TOOL_ROUNDS:
                exhausted = True
                break
            assert turn.runner is not None
            for call in turn.pending:
                yield from turn.runner.started(call)
                outcome = yield RunTool(turn.runner, call)
                turn.tool_done(call, outcome)
                yield from turn.runner.finished(call, outcome)
            if not turn.asks_again:
                break
        yield from self._answered(turn, offered, server)
        yield from turn.ended(rounds_exhausted=exhausted)

    def _round(self, turn: ChatTurn, params: dict[str, Any], server: str) -> Steps:
        """One round: a streamed completion, asked again when the server refuses its tools or says nothing."""
        params, notices = self._offerable(turn, params, server)
        yield from notices
        reader = ChatStreamReader()
        try:
            yield OpenCompletion(params)
            while (chunk := (yield NextChunk())) is not None:
                yield from turn.feed(reader.feed(chunk))
        except openai.APIStatusError as error:
            if "tools" not in params or reader.response_id is not None or not refuses_tools(error):
                raise
            yield CloseCompletion()
            yield from self._refused(turn, params, server, error)
            yield from self._round(turn, without_tools(params), server)
            return
        finally:
            yield CloseCompletion()  # before asking again: see below
        if reader.said_nothing:
            logger.info("chat backend: %s closed the stream without a word; asking again without streaming", server)
            try:
                completion = yield Complete(unstreamed(params))
            except openai.APITimeoutError:
                raise
            except openai.APIConnectionError:
                # A server that failed while streaming may close that connection just after the stream ended
                # (llama-cpp-python's does), and a request sent at once can still be given it by the pool, and be
                # reset: once more, on a new connection.
                completion = yield Complete(unstreamed(params))
            yield from turn.feed(reader.feed(completion_chunk(completion)))
        yield from turn.feed(reader.ended())

    # tools on servers without function calling (chat_tool_support.py)

    def _offerable(self, turn: ChatTurn, params: dict[str, Any], server: str) -> tuple[dict[str, Any], list[Event]]:
        """The round's request without its tools when the server has refused them for this model, and the
        notice saying so if the thread has not had it."""
        if "tools" not in params or turn.request.model not in self.tool_support.refused:
            return params, []
        notices = self.tool_support.notice(turn.request.thread.id, turn.request.model, tool_names(params), server)
        return without_tools(params), list(notices)

    def _refused(
        self, turn: ChatTurn, params: dict[str, Any], server: str, error: openai.APIStatusError
    ) -> list[Event]:
        logger.info("chat backend: %s refused tools for %s: %s", server, turn.request.model, error.message)
        return list(
            self.tool_support.refusal(turn.request.thread.id, turn.request.model, tool_names(params), server, error)
        )

    def _answered(self, turn: ChatTurn, offered: list[str], server: str) -> list[Event]:
        completed = turn.round_end is not None and turn.round_end.status == "completed"
        if not offered or not completed or turn.request.model in self.tool_support.refused:
            return []
        return list(
            self.tool_support.answered(turn.request.thread.id, turn.request.model, offered, server, called=turn.called)
        )


def chat_params(request: TurnRequest, *, server: str = "") -> dict[str, Any]:
    """The `chat.completions.create` arguments of a turn's first round, for a server at `server`."""
    return round_params(ChatTurn(request, None), offer_tools=True, server=server)


def round_params(turn: ChatTurn, *, offer_tools: bool, server: str) -> dict[str, Any]:
    """The `chat.completions.create` arguments for one round: the Responses request it stands for, translated,
    in the shape every Chat server takes."""
    translation = responses_to_chat(turn.responses_request(offer_tools=offer_tools))
    for warning in translation.warnings:
        logger.info("chat backend, thread %s: %s", turn.request.thread.id, warning)
    return wire_request(translation.request, server=server)


def wire_request(request: dict[str, Any], *, server: str) -> dict[str, Any]:
    """A translated request as every Chat Completions server takes it, not only OpenAI's:

    - a message whose parts are all text carries its text as a plain string: chat templates (llama.cpp's,
      Ollama's) concatenate `content` as a string and fail on a list; parts stay only for images and files;
    - an assistant message that only calls tools has "" for content, not null, for the same templates;
    - tools come with `tool_choice: "auto"`, OpenAI's default when tools are given, which llama-cpp-python's
      server needs spelled out (without it, it ignores the tools); without tools there is no `tool_choice` nor
      `parallel_tool_calls`, which OpenAI refuses alone ("'tool_choice' is only allowed when 'tools' are
      specified") while the Responses API takes them;
    - the output limit is `max_tokens`, which every compatible server reads (llama-cpp-python's ignores
      `max_completion_tokens` and runs on to the end of its context), except on OpenAI's own API, whose
      reasoning models take only `max_completion_tokens`.
    """
    request = {**request, "messages": [_plain(message) for message in request.get("messages") or []]}
    if request.get("tools") and "tool_choice" not in request:
        request["tool_choice"] = "auto"
    if not request.get("tools"):
        request = without_tools(request)
    if "max_completion_tokens" in request and not _is_openai(server):
        request["max_tokens"] = request.pop("max_completion_tokens")
    return request


def without_tools(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if key not in ("tools", "tool_choice", "parallel_tool_calls")}


def unstreamed(params: dict[str, Any]) -> dict[str, Any]:
    """The same request, answered in one piece (`stream_options` is refused without a stream)."""
    return {**{key: value for key, value in params.items() if key != "stream_options"}, "stream": False}


def _plain(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    # Only parts that are text and nothing more (a part with a cache breakpoint keeps its shape).
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and set(part) <= {"type", "text"} for part in content
    ):
        return {**message, "content": "\n".join(str(part.get("text") or "") for part in content)}
    if content is None and message.get("role") == "assistant":
        return {**message, "content": ""}
    return message


def _is_openai(server: str) -> bool:
    host = urlsplit(server).hostname or ""
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def _without_hosted_tools(request: TurnRequest) -> TurnRequest:
    return replace(request, tools=[tool for tool in request.tools if hosted_kind(tool) is None])


# -- the effects a Chat turn asks for, and how each driver performs them -------------------------------------------


@dataclass(frozen=True)
class OpenCompletion(Effect):
    """Send a streamed completion request; its chunks are then read with `NextChunk`."""

    params: dict[str, Any]


@dataclass(frozen=True)
class NextChunk(Effect):
    """The open completion's next chunk, or None when its stream has ended."""


@dataclass(frozen=True)
class CloseCompletion(Effect):
    """Close the open completion's stream (and its connection), if one is open."""


@dataclass(frozen=True)
class Complete(Effect):
    """One completion, not streamed: answers the ChatCompletion."""

    params: dict[str, Any]


@dataclass(frozen=True)
class RunTool(Effect):
    """Run one hosted tool call on the client: answers its Outcome."""

    runner: HostedToolRunner
    call: HostedCall


class _PlainCalls:
    def __init__(self, client: OpenAI) -> None:
        self.client = client
        self.stream: openai.Stream[ChatCompletionChunk] | None = None
        self.chunks: Iterator[ChatCompletionChunk] = iter(())

    def perform(self, effect: Effect) -> Any:
        match effect:
            case OpenCompletion(params=params):
                self.stream = self.client.chat.completions.create(**params)
                self.chunks = iter(self.stream)
            case NextChunk():
                return next(self.chunks, None)
            case CloseCompletion():
                if self.stream is not None:
                    self.stream.close()
                self.stream, self.chunks = None, iter(())
            case Complete(params=params):
                return self.client.chat.completions.create(**params)
            case RunTool(runner=runner, call=call):
                return runner.execute(call)
        return None


class _Awaits:
    def __init__(self, client: AsyncOpenAI) -> None:
        self.client = client
        self.stream: openai.AsyncStream[ChatCompletionChunk] | None = None

    async def perform(self, effect: Effect) -> Any:
        match effect:
            case OpenCompletion(params=params):
                self.stream = await self.client.chat.completions.create(**params)
            case NextChunk():
                assert self.stream is not None
                return await anext(aiter(self.stream), None)
            case CloseCompletion():
                if self.stream is not None:
                    await self.stream.close()
                self.stream = None
            case Complete(params=params):
                return await self.client.chat.completions.create(**params)
            case RunTool(runner=runner, call=call):
                return await asyncio.to_thread(runner.execute, call)  # the tools block
        return None
