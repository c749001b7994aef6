"""A thread: a conversation whose state lives on the server and whose record lives in the index.

`Thread.stream()` is the one path every turn takes (`ask`, the CLI and the TUI all use it or its async twin):
record the user's message, run the backend, record its events, close the turn with an honest status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import openai

from assistant.backends.base import Backend, TurnRequest
from assistant.errors import AssistantError, TurnFailed, explain, redact
from assistant.events import TERMINAL_TYPE_OF_STATUS, Event, TurnEnded, TurnStarted
from assistant.index.recorder import TurnRecorder
from assistant.index.store import ThreadInfo
from assistant.metering import metering
from assistant.turn import Turn

if TYPE_CHECKING:
    from assistant.client import Assistant

MODES = ("conversation", "chain", "local")
# Modes that send the whole history every turn, rebuilt from the index.
HISTORY_MODES = ("local", "chat")


class Thread:
    def __init__(self, assistant: Assistant, info: ThreadInfo) -> None:
        self._assistant = assistant
        self._info = info

    def __repr__(self) -> str:
        return f"<Thread {self.id} {self.title!r} mode={self.mode}>"

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def title(self) -> str:
        return self._info.title

    @property
    def mode(self) -> str:
        return self._info.mode

    @property
    def model(self) -> str:
        return self._info.model

    @property
    def instructions(self) -> str | None:
        return self._info.instructions

    @property
    def conversation_id(self) -> str | None:
        return self._info.conversation_id

    @property
    def last_response_id(self) -> str | None:
        return self._info.last_response_id

    def refresh(self) -> None:
        """Re-read the thread from the index (another process may have moved it on)."""
        self._info = self._assistant.store.thread(self.id)

    def history(self) -> list[Turn]:
        """Every turn of the thread from the index, oldest first, with its items."""
        return self._assistant.store.turns(self.id)

    # one turn

    def ask(self, text: str, **options: Any) -> Turn:
        """Send `text` and wait for the whole answer. Raises AssistantError when the turn fails; the turn is
        recorded either way (`error.turn`)."""
        turn = None
        for event in self.stream(text, **options):
            if isinstance(event, TurnEnded):
                turn = event.turn
        assert turn is not None
        return turn

    def stream(self, text: str, **options: Any) -> Iterator[Event]:
        """Send `text`; yield the turn's events as they arrive, ending with one TurnEnded."""
        backend, request = self._prepare(text, options)
        recorder = TurnRecorder(self._assistant.store, request, backend=backend.name)
        yield TurnStarted(thread_id=self.id, turn_id=recorder.turn_id)
        try:
            with metering(recorder):
                for event in backend.stream(request):
                    recorder.record(event)
                    if event.type != "response.ended":
                        yield event
        except (GeneratorExit, KeyboardInterrupt):
            self._close(recorder, "cancelled", "cancelled before the answer finished")
            raise
        except Exception as exc:
            turn = self._close(recorder, *self._failure(recorder, exc))
            yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
            raise self._explain(exc, turn) from exc
        turn = self._close(recorder)
        yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
        if turn.status == "failed":
            raise TurnFailed(f"The response failed: {turn.error}", turn=turn)

    async def aask(self, text: str, **options: Any) -> Turn:
        turn = None
        async for event in self.astream(text, **options):
            if isinstance(event, TurnEnded):
                turn = event.turn
        assert turn is not None
        return turn

    async def astream(self, text: str, **options: Any) -> AsyncIterator[Event]:
        backend, request = self._prepare(text, options)
        recorder = TurnRecorder(self._assistant.store, request, backend=backend.name)
        yield TurnStarted(thread_id=self.id, turn_id=recorder.turn_id)
        try:
            with metering(recorder):
                async for event in backend.astream(request):
                    recorder.record(event)
                    if event.type != "response.ended":
                        yield event
        except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt):
            self._close(recorder, "cancelled", "cancelled before the answer finished")
            raise
        except Exception as exc:
            turn = self._close(recorder, *self._failure(recorder, exc))
            yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
            raise self._explain(exc, turn) from exc
        turn = self._close(recorder)
        yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
        if turn.status == "failed":
            raise TurnFailed(f"The response failed: {turn.error}", turn=turn)

    # the parts both twins share

    def _prepare(self, text: str, options: dict[str, Any]) -> tuple[Backend, TurnRequest]:
        if not isinstance(text, str) or not text.strip():
            raise AssistantError("Nothing to send: the message is empty.")
        self.refresh()  # the conversation id or chain head may have moved on in another process
        model = options.pop("model", None) or self.model
        instructions = options.pop("instructions", None) or self.instructions
        history = self._assistant.store.replay_items(self.id) if self.mode in HISTORY_MODES else []
        request = TurnRequest(thread=self._info, input_text=text, model=model, instructions=instructions,
                              options=options, history=history)
        return self._assistant.backend_for(self.mode), request

    def _close(self, recorder: TurnRecorder, status: str | None = None, error: str | None = None) -> Turn:
        turn = recorder.close(status, error)
        self.refresh()
        return turn

    @staticmethod
    def _failure(recorder: TurnRecorder, exc: Exception) -> tuple[str, str]:
        """(status, error) of a turn an exception ended. A stream that broke off after the response started is
        incomplete (what arrived is kept); anything that stopped it before, or an error the server reported,
        is a failure."""
        reported = isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError)
        message = redact(str(exc) or type(exc).__name__)
        if recorder.response_id and not reported:
            return "incomplete", f"the stream broke off: {message}"
        return "failed", message

    def _explain(self, exc: Exception, turn: Turn) -> AssistantError:
        if turn.status == "incomplete":  # the server was reached; the answer stopped half-way
            return TurnFailed(
                f"The answer from {self._assistant.base_url} broke off after {len(turn.text)} characters "
                f"({turn.error}). What arrived is saved in thread {turn.thread_id}; ask again to continue.",
                turn=turn,
            )
        return explain(exc, base_url=self._assistant.base_url, model=turn.model, turn=turn)
