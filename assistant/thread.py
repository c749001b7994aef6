"""A thread: a conversation whose state lives on the server and whose record lives in the index.

`Thread.stream()` is the one path every turn takes (`ask`, the CLI and the TUI all use it or its async twin):
record the user's message, run the backend, record its events, close the turn with an honest status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import openai

from assistant.backends.base import Backend, TurnRequest
from assistant.errors import AssistantError, TurnFailed, explain, redact
from assistant.events import TERMINAL_TYPE_OF_STATUS, Event, StateRebuilt, TurnEnded, TurnStarted
from assistant.index.recorder import TurnRecorder
from assistant.index.store import ThreadChange, ThreadInfo
from assistant.metering import metering
from assistant.tool_settings import ToolSettings, parse_tools
from assistant.turn import Turn

if TYPE_CHECKING:
    from assistant.client import Assistant

MODES = ("conversation", "chain", "local", "chat")
# Modes that send the whole history every turn, rebuilt from the index.
HISTORY_MODES = ("local", "chat")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"Unknown thread mode {mode!r}; use one of: {', '.join(MODES)}.")


# A turn is sent again at most this often: once to rebuild lost state, once more to fall back to chat mode.
MAX_RECOVERIES = 2


@dataclass(frozen=True)
class Recovery:
    notice: Event
    request: TurnRequest
    backend: Backend


def missing_route(exc: openai.APIStatusError) -> bool:
    """Whether a 404/405 means the endpoint itself does not exist, not an object it names: the request went to
    a collection route (POST /responses or /conversations) and the body is not the API's "not found" for an id."""
    path = exc.request.url.path.rstrip("/")
    if not path.endswith(("/responses", "/conversations")):
        return False
    message = exc.message.lower()
    return exc.status_code == 405 or not any(word in message for word in ("conversation with id", "response with id",
                                                                          "previous response"))


def lost_server_state(exc: openai.APIStatusError, mode: str) -> str | None:
    """What server state an error says is gone ("conversation" or "previous response"), or None."""
    if mode == "conversation" and isinstance(exc, openai.NotFoundError):
        return "conversation"
    code = exc.code if isinstance(exc.code, str) else None
    if mode == "chain" and (isinstance(exc, openai.NotFoundError) or code == "previous_response_not_found"):
        return "previous response"
    return None


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
    def tools(self) -> ToolSettings:
        """The hosted tools every turn may use (a turn can override them with `tools=`)."""
        return ToolSettings.from_json(self._info.tools)

    def rename(self, title: str) -> None:
        self._assistant.store.update_thread(self.id, touch=False, title=title)
        self.refresh()

    def set_archived(self, archived: bool) -> None:
        """Archive (hide from the thread list) or restore; nothing is deleted."""
        self._assistant.store.update_thread(self.id, touch=False, archived=archived)
        self.refresh()

    def set_model(self, model: str) -> None:
        """The model for the thread's next turns (a turn can still pass `model=`)."""
        self._assistant.store.update_thread(self.id, touch=False, model=model)
        self.refresh()

    def set_tools(self, tools: Any) -> None:
        self._assistant.store.update_thread(self.id, tools=parse_tools(tools).to_json())
        self.refresh()

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

    def changes(self) -> list[ThreadChange]:
        """What happened to the thread's state outside its turns: mode switches, rebuilds, forks, repairs."""
        return self._assistant.store.changes(self.id)

    def set_mode(self, mode: str) -> None:
        """Move the thread to another state mode, losing nothing: the index holds every item, and the next
        turn rebuilds whatever server state the new mode needs (a seeded conversation, a chain head)."""
        check_mode(mode)
        if mode == self.mode:
            return
        self._assistant.store.record_change(self.id, "mode_changed", f"{self.mode} -> {mode}", mode=mode,
                                            conversation_id=None, last_response_id=None)
        self.refresh()

    def fork(self, at_turn: int, *, title: str | None = None) -> Thread:
        """A new thread sharing this one's history up to turn `at_turn` (1-based), for trying another way
        from there. Its server state is new: a conversation seeded from those turns on its first turn, or in
        chain mode the response of turn `at_turn` as its chain head."""
        turns = self.history()
        if not 1 <= at_turn <= len(turns):
            raise AssistantError(f"Cannot fork at turn {at_turn}: thread {self.id} has turns 1 to {len(turns)}.")
        head = turns[at_turn - 1]
        chain_head = head.response_id if self.mode == "chain" and head.status in ("completed", "incomplete") else None
        info = self._assistant.store.fork_thread(self._info, at_turn, title=title or f"{self.title} (fork)".strip(),
                                                 last_response_id=chain_head)
        return Thread(self._assistant, info)

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
                for _attempt in range(MAX_RECOVERIES + 1):
                    try:
                        yield from self._recorded(backend.stream(request), recorder)
                        break
                    except openai.APIStatusError as exc:
                        recovery = self._recover(exc, request, backend, recorder)
                        if recovery is None:
                            raise
                        yield recovery.notice
                        request, backend = recovery.request, recovery.backend
        except (GeneratorExit, KeyboardInterrupt):
            self._close(recorder, "cancelled", "cancelled before the answer finished")
            raise
        except Exception as exc:
            turn = self._close(recorder, *self._failure(recorder, exc))
            yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
            raise self._explain(exc, turn) from exc
        turn = self._close(recorder)
        yield from self._assistant.containers.after_turn(turn)
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
                for _attempt in range(MAX_RECOVERIES + 1):
                    try:
                        async for event in self._arecorded(backend.astream(request), recorder):
                            yield event
                        break
                    except openai.APIStatusError as exc:
                        recovery = self._recover(exc, request, backend, recorder)
                        if recovery is None:
                            raise
                        yield recovery.notice
                        request, backend = recovery.request, recovery.backend
        except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt):
            self._close(recorder, "cancelled", "cancelled before the answer finished")
            raise
        except Exception as exc:
            turn = self._close(recorder, *self._failure(recorder, exc))
            yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
            raise self._explain(exc, turn) from exc
        turn = self._close(recorder)
        for notice in await asyncio.to_thread(self._assistant.containers.after_turn, turn):
            yield notice
        yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
        if turn.status == "failed":
            raise TurnFailed(f"The response failed: {turn.error}", turn=turn)

    # the parts both twins share

    @staticmethod
    def _recorded(events: Iterator[Event], recorder: TurnRecorder) -> Iterator[Event]:
        for event in events:
            recorder.record(event)
            if event.type != "response.ended":  # the thread says how the turn ended, with TurnEnded
                yield event

    @staticmethod
    async def _arecorded(events: AsyncIterator[Event], recorder: TurnRecorder) -> AsyncIterator[Event]:
        async for event in events:
            recorder.record(event)
            if event.type != "response.ended":
                yield event

    def _recover(
        self, exc: openai.APIStatusError, request: TurnRequest, backend: Backend, recorder: TurnRecorder
    ) -> Recovery | None:
        """The same turn, to send again, when an error says the server's state for the thread is gone or the
        server has no Responses API; None when the error is something else or the response had started.

        - The server no longer knows the conversation or previous response (deleted, expired, another server):
          forget it, on record, and rebuild it from the index (a seeded conversation, or a chain head carrying
          the history).
        - The server has no Responses API at all (404/405 on the route itself, as from a llama.cpp or vLLM
          server): move the thread to chat mode, on record, and send the turn to /chat/completions.
        """
        if recorder.response_id or backend.name != "responses":
            return None
        store = self._assistant.store
        thread = request.thread
        had_state = thread.conversation_id if thread.mode == "conversation" else thread.last_response_id
        lost = lost_server_state(exc, thread.mode) if had_state and not request.history else None
        if lost:
            reason = f"the server no longer has this thread's {lost} ({redact(str(exc))}); rebuilt it from the index"
            store.record_change(self.id, "state_rebuilt", reason, conversation_id=None, last_response_id=None)
            notice: Event = StateRebuilt(reason=reason)
        elif exc.status_code in (404, 405) and missing_route(exc):
            reason = (f"{exc.request.url} answered {exc.status_code}: this server has no Responses API; "
                      "the thread now uses Chat Completions (chat mode)")
            store.record_change(self.id, "mode_changed", f"{self.mode} -> chat: {reason}", mode="chat",
                                conversation_id=None, last_response_id=None)
            notice = StateRebuilt(reason=reason)
        else:
            return None
        self.refresh()
        resent = replace(request, thread=self._info, history=store.replay_items(self.id))
        backend = self._assistant.backend_for(self.mode)
        recorder.resend(resent, backend=backend.name)
        return Recovery(notice=notice, request=resent, backend=backend)

    def _prepare(self, text: str, options: dict[str, Any]) -> tuple[Backend, TurnRequest]:
        if not isinstance(text, str) or not text.strip():
            raise AssistantError("Nothing to send: the message is empty.")
        self.refresh()  # the conversation id or chain head may have moved on in another process
        model = options.pop("model", None) or self.model
        instructions = options.pop("instructions", None) or self.instructions
        history = self._assistant.store.replay_items(self.id) if self._needs_history() else []
        settings = parse_tools(options.pop("tools")) if "tools" in options else self.tools
        own_store = self._assistant.store.thread_vector_store(self.id) if settings.file_search else None
        tools = settings.api_tools([own_store] if own_store else [])
        if tools and self.mode == "chat":
            raise AssistantError("Hosted tools (web search, file search, code interpreter) do not run in chat mode "
                                 "yet. Switch the thread to another mode with `assistant mode`, or turn the tools "
                                 "off for this turn.")
        request = TurnRequest(thread=self._info, input_text=text, model=model, instructions=instructions,
                              options=options, history=history, tools=tools,
                              include=settings.includes() if tools else [])
        return self._assistant.backend_for(self.mode), request

    def _needs_history(self) -> bool:
        """Whether this turn must carry the whole history: always in the client-side modes, and when the
        server holds no state for the thread yet (new mode, fork, lost state) but the index has turns."""
        info = self._info
        return (
            info.mode in HISTORY_MODES
            or (info.mode == "conversation" and info.conversation_id is None)
            or (info.mode == "chain" and info.last_response_id is None)
        )

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
