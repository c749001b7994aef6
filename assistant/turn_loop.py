"""One turn, written once: its rounds, its recovery, your functions, its close.

`TurnLoop.steps()` is the turn's logic as a generator that does no network I/O and never blocks on your code: it
yields the events the caller sees and the effects it needs (send a round and read its events, create a
conversation, run function calls, take the thread's lease, wait, blocking index work), and is sent back each
effect's result (or has its exception thrown in; see assistant/effects.py). Two small drivers perform the
effects: `run_turn` for `Thread.stream` (plain calls) and `arun_turn` for `Thread.astream` (awaits; blocking
index work and sync functions on worker threads). So each rule (when a lost conversation is rebuilt, when the
model is told to stop calling, how a broken stream is recorded) is written once, and both paths follow it.

The loop owns the turn's recorder (assistant/turn_recording.py): it is the only one that calls it. Backends return
what happened as events; the request meter (assistant/metering.py) counts into the turn's own meter, read at close.

Your functions run here, above the backends, so the loop is the same for Responses and Chat Completions: when a
round's response ends in `function_call` items and the turn has functions, they run (concurrently when several),
each emits a `function.result` event, and their outputs go back in a new round (only the outputs with
`conversation=` or `previous_response_id`; the whole history in local and chat mode) until the model answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import openai

from assistant.backends.backend import Backend, LocalFile, TurnRequest, with_open_calls_answered
from assistant.backends.responses import ResponsesBackend
from assistant.effects import Abandoned, Effect, Steps, adrive, drive
from assistant.errors import AssistantError, StructuredAnswerError, TurnFailed, redact
from assistant.events import (
    TERMINAL_TYPE_OF_STATUS,
    Citation,
    ConversationCreated,
    Event,
    FunctionResult,
    ItemAdded,
    ItemDone,
    ResponseEnded,
    StateRebuilt,
    TextDelta,
    ToolCallProgress,
    TurnEnded,
    TurnStarted,
)
from assistant.functions import Approver, FunctionCall, FunctionOutcome, FunctionTool, arun_calls, as_tools, run_calls
from assistant.index.records import Lease, LeaseHolder
from assistant.index.store import IndexStore
from assistant.metering import RequestMeter, metering
from assistant.provider_errors import explain
from assistant.structured import AnswerSchema, answer_schema, parse_answer
from assistant.tool_settings import parse_tools
from assistant.turn import Turn
from assistant.turn_recording import TurnRecorder

if TYPE_CHECKING:
    from assistant.client import Assistant
    from assistant.thread import Thread

# Modes that send the whole history every turn, rebuilt from the index.
HISTORY_MODES = ("local", "chat")

# A turn is sent again at most this often: once to rebuild lost state, once more to fall back to chat mode.
MAX_RECOVERIES = 2

# Rounds of function calls one turn may run before the model is told to answer without more calls.
MAX_FUNCTION_ROUNDS = 10

# A chain-mode turn waiting for another turn's lease on the thread tries again after this long, twice as long each
# time up to the longest.
LEASE_FIRST_WAIT_S = 0.05
LEASE_LONGEST_WAIT_S = 1.0


def check_message(text: object) -> None:
    if not isinstance(text, str) or not text.strip():
        raise AssistantError("Nothing to send: the message is empty.")


# -- the effects the loop asks its driver for ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRound(Effect):
    """Send one round's request; its events are then read one at a time with `NextEvent`."""

    backend: Backend
    request: TurnRequest


@dataclass(frozen=True)
class NextEvent(Effect):
    """The open round's next event, or None when its stream has ended."""


@dataclass(frozen=True)
class CloseRound(Effect):
    """Close the open round's stream (and its response), if it has not ended."""


@dataclass(frozen=True)
class CreateConversation(Effect):
    """A new conversation for the request's thread, seeded with its history: answers its id."""

    backend: ResponsesBackend
    request: TurnRequest


@dataclass(frozen=True)
class DiscardConversation(Effect):
    backend: ResponsesBackend
    conversation_id: str


@dataclass(frozen=True)
class RunCalls(Effect):
    """Run the model's function calls (approvals first): answers their outcomes, in order."""

    calls: list[FunctionCall]
    functions: dict[str, FunctionTool]
    approve: Approver | None


@dataclass(frozen=True)
class TakeLease(Effect):
    """Try to take the thread's lease: answers None when taken, else who holds it."""

    store: IndexStore
    lease: Lease


@dataclass(frozen=True)
class Wait(Effect):
    seconds: float


@dataclass(frozen=True)
class IndexWork(Effect):
    """Blocking work on the index (reading the history, writing the turn row): answers what `work` returns. The
    async driver runs it on a worker thread, so an app streaming the turn never stutters."""

    work: Callable[[], Any]


Step = Event | Effect


# -- the turn --------------------------------------------------------------------------------------------------------


class LeaseWaits:
    """How long a chain-mode turn waits before it tries again to take the thread's lease from `holder`: twice as
    long each time, up to the longest; past the lease's hold (the timeout) the wait ends in one clear line."""

    def __init__(self, thread_id: str, lease: Lease) -> None:
        self.thread_id = thread_id
        self.lease = lease
        self.since = time.monotonic()
        self.wait = LEASE_FIRST_WAIT_S

    def after(self, holder: LeaseHolder) -> float:
        waited_s = time.monotonic() - self.since
        if waited_s >= self.lease.hold.total_seconds():
            host, _, rest = holder.owner.partition(" ")
            who = f"process {rest.split(' ')[0]} on {host}" if rest else "another process"
            raise AssistantError(
                f"Thread {self.thread_id} is busy: a turn by {who} has held it for the last "
                f"{waited_s:.0f} s (in chain mode one turn runs at a time, so the chain stays in "
                "one line). Ask again when that turn has finished."
            )
        wait, self.wait = self.wait, min(self.wait * 2, LEASE_LONGEST_WAIT_S)
        return wait


@dataclass(frozen=True)
class TurnExtras:
    """What a turn adds to its request beyond text: functions, approval, a structured-answer schema."""

    functions: dict[str, FunctionTool]
    approve: Approver | None
    schema: AnswerSchema | None
    max_rounds: int

    def calls(self, ended: ResponseEnded | None) -> list[FunctionCall]:
        """The function calls the round that just ended asks this turn to run (none without functions: the
        turn then ends with the calls as items, for the caller to handle)."""
        if not self.functions or ended is None or ended.status != "completed":
            return []
        return [
            FunctionCall(
                call_id=item.get("call_id") or "",
                name=item.get("name") or "",
                arguments=item.get("arguments") or "",
                item_id=item.get("id"),
            )
            for item in ended.items
            if item.get("type") == "function_call"
        ]


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
    return exc.status_code == 405 or not any(
        word in message for word in ("conversation with id", "response with id", "previous response")
    )


def lost_server_state(exc: openai.APIStatusError, mode: str) -> str | None:
    """What server state an error says is gone ("conversation" or "previous response"), or None."""
    if mode == "conversation" and isinstance(exc, openai.NotFoundError):
        return "conversation"
    code = exc.code if isinstance(exc.code, str) else None
    if mode == "chain" and (isinstance(exc, openai.NotFoundError) or code == "previous_response_not_found"):
        return "previous response"
    return None


def unanswered_call(exc: openai.APIStatusError) -> bool:
    """Whether the API refused the request because the server's state ends with a function call that has no
    output (a turn cancelled while its functions ran, or a call left to the caller): the real API's words."""
    return exc.status_code == 400 and "No tool output found for function call" in exc.message


class TurnLoop:
    """One turn of `thread`: `steps()` is its logic, run by `run_turn` or `arun_turn`."""

    def __init__(self, thread: Thread, assistant: Assistant, text: str, options: dict[str, Any]) -> None:
        self.thread = thread
        self.assistant = assistant
        self.store = assistant.store
        self.text = text
        self.options = options

    def steps(self) -> Steps:
        """Send the message; yield the turn's events as they arrive, ending with one TurnEnded."""
        extras = self._extras(self.options)
        check_message(self.text)
        lease = self._lease()
        if lease is not None:
            waits = LeaseWaits(self.thread.id, lease)
            while (holder := (yield TakeLease(self.store, lease))) is not None:
                yield Wait(waits.after(holder))
        try:
            prepared: tuple[Backend, TurnRequest] = yield IndexWork(partial(self._prepare, self.text, self.options))
            backend, request = prepared
            request = self._with_extras(request, extras)
            recorder: TurnRecorder = yield IndexWork(
                partial(TurnRecorder, self.store, request, backend=backend.name, lease=lease)
            )
        except BaseException:
            self._release(lease)
            raise
        yield TurnStarted(thread_id=self.thread.id, turn_id=recorder.turn_id)
        meter = RequestMeter()
        try:
            with metering(meter):
                while True:
                    request, backend = yield from self._round(request, backend, recorder)
                    calls = extras.calls(recorder.ended)
                    if not calls:
                        break
                    if recorder.rounds > extras.max_rounds + 1:  # told to answer, and still calling
                        recorder.out_of_rounds(extras.max_rounds)
                        break
                    outcomes: list[FunctionOutcome] = (
                        self._refused_past_limit(calls, extras)
                        if self._at_limit(recorder, extras)
                        else (yield RunCalls(calls, extras.functions, extras.approve))
                    )
                    yield from self._results(outcomes, recorder)
                    request = yield IndexWork(partial(self._next_round, request, recorder, outcomes, extras))
        except (Abandoned, asyncio.CancelledError, KeyboardInterrupt):
            self._close(recorder, meter, "cancelled", "cancelled before the answer finished")
            raise
        except Exception as exc:
            turn = self._close(recorder, meter, *self._failure(recorder, exc))
            yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
            raise self._explain(exc, turn) from exc
        turn = yield IndexWork(partial(self._close, recorder, meter))
        notices: list[Event] = yield IndexWork(partial(self.assistant.containers.after_turn, turn))
        yield from notices
        turn, problem = self._parsed(turn, extras)
        yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
        if turn.status == "failed":
            raise TurnFailed(f"The response failed: {turn.error}", turn=turn)
        if problem is not None:
            raise problem

    # one round, sent again when the server's state for the thread is gone

    def _round(
        self, request: TurnRequest, backend: Backend, recorder: TurnRecorder
    ) -> Generator[Step, Any, tuple[TurnRequest, Backend]]:
        """Send one round and record its events; returns the request and backend it was last sent with."""
        for _attempt in range(MAX_RECOVERIES + 1):
            try:
                yield from self._sent(request, backend, recorder)
                break
            except openai.APIStatusError as exc:
                recovery: Recovery | None = yield IndexWork(partial(self._recover, exc, request, backend, recorder))
                if recovery is None:
                    raise
                yield recovery.notice
                request, backend = recovery.request, recovery.backend
        return request, backend

    def _sent(self, request: TurnRequest, backend: Backend, recorder: TurnRecorder) -> Steps:
        if request.thread.mode == "conversation" and request.thread.conversation_id is None:
            assert isinstance(backend, ResponsesBackend)  # conversation mode runs on the Responses API
            conversation_id = yield from self._new_conversation(request, backend, recorder)
            request = replace(request, thread=replace(request.thread, conversation_id=conversation_id))
        yield OpenRound(backend, request)
        try:
            while (event := (yield NextEvent())) is not None:
                event = _turn_indexed(event, recorder.position_offset)
                recorder.record(event)
                if event.type != "response.ended":  # the loop says how the turn ended, with TurnEnded
                    yield event
        finally:
            yield CloseRound()  # ended, failed, or the caller stopped reading: the response is closed first

    def _new_conversation(
        self, request: TurnRequest, backend: ResponsesBackend, recorder: TurnRecorder
    ) -> Generator[Step, Any, str]:
        """A conversation for a thread that has none, seeded with its history: the one created, or the one
        another process claimed for the thread first (the created one is then deleted)."""
        created: str = yield CreateConversation(backend, request)
        conversation_id: str = yield IndexWork(partial(recorder.claim_conversation, created))
        if conversation_id != created:
            yield DiscardConversation(backend, created)
        event = ConversationCreated(
            conversation_id=conversation_id, seeded_items=len(request.history) if conversation_id == created else 0
        )
        recorder.record(event)
        yield event
        return conversation_id

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
        - The server's state ends with a function call that has no output (a turn cancelled while its functions
          ran, or a call left to the caller), which the API refuses to continue: rebuild it from the index,
          whose history answers such calls (`with_open_calls_answered`).
        """
        if recorder.response_id or backend.name != "responses":
            return None
        thread = request.thread
        had_state = thread.conversation_id if thread.mode == "conversation" else thread.last_response_id
        lost = lost_server_state(exc, thread.mode) if had_state and not request.history else None
        if lost or (had_state and not request.history and unanswered_call(exc)):
            reason = (
                f"the server no longer has this thread's {lost} ({redact(str(exc))}); rebuilt it from the index"
                if lost
                else f"the server's state for this thread ends with a function call never answered "
                f"({redact(str(exc))}); rebuilt it from the index, where the call is answered"
            )
            self.store.record_change(
                self.thread.id, "state_rebuilt", reason, conversation_id=None, last_response_id=None
            )
            notice: Event = StateRebuilt(reason=reason)
        elif exc.status_code in (404, 405) and missing_route(exc):
            reason = (
                f"{exc.request.url} answered {exc.status_code}: this server has no Responses API; "
                "the thread now uses Chat Completions (chat mode)"
            )
            self.store.record_change(
                self.thread.id,
                "mode_changed",
                f"{self.thread.mode} -> chat: {reason}",
                mode="chat",
                conversation_id=None,
                last_response_id=None,
            )
            notice = StateRebuilt(reason=reason)
        else:
            return None
        self.thread.refresh()
        resent = replace(request, thread=self.thread.info, history=self._history())
        backend = self.assistant.backend_for(self.thread.mode)
        recorder.resend(resent, backend=backend.name)
        return Recovery(notice=notice, request=resent, backend=backend)

    # the request

    def _prepare(self, text: str, options: dict[str, Any]) -> tuple[Backend, TurnRequest]:
        thread, store = self.thread, self.store
        thread.refresh()  # the conversation id or chain head may have moved on in another process
        model = options.pop("model", None) or thread.model
        instructions = options.pop("instructions", None) or thread.instructions
        history = self._history() if self._needs_history() else []
        settings = parse_tools(options.pop("tools")) if "tools" in options else thread.tools
        own_store = store.thread_vector_store(thread.id) if settings.file_search else None
        tools = settings.api_tools([own_store] if own_store else [])
        # Local copies of the thread's files, for backends that search them on the client (chat mode, and a turn
        # that falls back to it).
        local_files = (
            [
                LocalFile(record.id, record.filename, record.path)
                for record in store.thread_files(thread.id)
                if record.path
            ]
            if settings.file_search
            else []
        )
        request = TurnRequest(
            thread=thread.info,
            input_text=text,
            model=model,
            instructions=instructions,
            options=options,
            history=history,
            tools=tools,
            include=settings.includes() if tools else [],
            local_files=local_files,
        )
        return self.assistant.backend_for(thread.mode), request

    def _history(self) -> list[dict[str, Any]]:
        """The thread's earlier items as the API takes them: a call no one answered gets an output saying so."""
        return with_open_calls_answered(self.store.replay_items(self.thread.id))

    def _needs_history(self) -> bool:
        """Whether this turn must carry the whole history: always in the client-side modes, and when the
        server holds no state for the thread yet (new mode, fork, lost state) but the index has turns."""
        info = self.thread.info
        return (
            info.mode in HISTORY_MODES
            or (info.mode == "conversation" and info.conversation_id is None)
            or (info.mode == "chain" and info.last_response_id is None)
        )

    def _lease(self) -> Lease | None:
        """The lease a turn of this thread must hold on it: in chain mode, where two turns continuing the same
        head at once would fork the chain on the server (the last to finish would win the thread's head, and
        the other turn would be in the index but not in the chain). A turn waits for the turn holding it, up to
        the timeout (ASSISTANT_TIMEOUT), then continues from that turn's answer."""
        if self.thread.mode != "chain":
            return None
        return Lease.new(self.thread.id, timedelta(seconds=self.assistant.settings.timeout))

    def _release(self, lease: Lease | None) -> None:
        if lease is not None:
            self.store.release_lease(lease)

    # your functions and structured answers

    def _extras(self, options: dict[str, Any]) -> TurnExtras:
        """Take this library's own options out of `options` (the rest go to the API)."""
        functions = {tool.name: tool for tool in self.thread.functions}
        functions.update(as_tools(options.pop("functions", None)))
        schema = options.pop("schema", None)
        approve = options.pop("approve", None) or self.thread.approve
        max_rounds = options.pop("max_function_rounds", None) or MAX_FUNCTION_ROUNDS
        return TurnExtras(
            functions=functions,
            approve=approve,
            schema=answer_schema(schema) if schema is not None else None,
            max_rounds=max_rounds,
        )

    @staticmethod
    def _with_extras(request: TurnRequest, extras: TurnExtras) -> TurnRequest:
        return replace(
            request,
            functions=[tool.api_param() for tool in extras.functions.values()],
            text_format=extras.schema.format if extras.schema else None,
        )

    @staticmethod
    def _at_limit(recorder: TurnRecorder, extras: TurnExtras) -> bool:
        return recorder.rounds > extras.max_rounds  # rounds so far = function rounds answered + 1

    @staticmethod
    def _refused_past_limit(calls: list[FunctionCall], extras: TurnExtras) -> list[FunctionOutcome]:
        message = (
            f"not run: this turn reached its limit of {extras.max_rounds} rounds of function calls; "
            "answer with what you have"
        )
        return [
            FunctionOutcome(call=call, output=f"error: {message}", duration_ms=0.0, error=message) for call in calls
        ]

    @staticmethod
    def _results(outcomes: list[FunctionOutcome], recorder: TurnRecorder) -> Iterator[Event]:
        for outcome in outcomes:
            event = FunctionResult(
                call_id=outcome.call.call_id,
                item_id=outcome.call.item_id,
                name=outcome.call.name,
                arguments=outcome.call.arguments,
                output=outcome.output,
                duration_ms=outcome.duration_ms,
                error=outcome.error,
                approved=outcome.approved,
                round=recorder.rounds,
            )
            recorder.record(event)
            yield event

    def _next_round(
        self, request: TurnRequest, recorder: TurnRecorder, outcomes: list[FunctionOutcome], extras: TurnExtras
    ) -> TurnRequest:
        """The request that sends the function outputs back: the conversation (now holding the message and the
        calls) or the response that asked for them as the chain head; the whole turn so far in local and chat
        mode. Past the round limit the model is told to answer (`tool_choice: "none"`)."""
        outputs = [outcome.output_item() for outcome in outcomes]
        turn_items = recorder.next_round(outputs)
        self.thread.refresh()  # the conversation the first round created, if it did
        thread = self.thread.info
        if thread.mode == "chain":
            thread = replace(thread, last_response_id=recorder.response_id)
        options = request.options
        if self._at_limit(recorder, extras):
            options = {**options, "tool_choice": "none"}
        return replace(request, thread=thread, options=options, turn_items=turn_items, new_items=outputs)

    def _parsed(self, turn: Turn, extras: TurnExtras) -> tuple[Turn, StructuredAnswerError | None]:
        """The turn with its structured answer as data, or the error that says why there is none."""
        if extras.schema is None or turn.status not in ("completed", "incomplete"):
            return turn, None
        try:
            parsed = parse_answer([item.data for item in turn.output_items], extras.schema, turn=turn)
        except StructuredAnswerError as error:
            self.store.update_turn(turn.id, error=str(error))
            turn = self.store.turn(turn.id)
            return turn, StructuredAnswerError(str(error), turn=turn, refusal=error.refusal, problem=error.problem)
        return replace(turn, parsed=parsed), None

    # closing the turn

    def _close(
        self, recorder: TurnRecorder, meter: RequestMeter, status: str | None = None, error: str | None = None
    ) -> Turn:
        turn = recorder.close(status, error, request_bytes=meter.request_bytes)
        self.thread.forget_info()  # the turn moved the thread on: read it again when next asked, not now (hot path)
        return turn

    @staticmethod
    def _failure(recorder: TurnRecorder, exc: Exception) -> tuple[str, str]:
        """(status, error) of a turn an exception ended. A stream that broke off after the response started is
        incomplete (what arrived is kept); anything that stopped it before, or an error the server reported,
        is a failure."""
        reported = isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError)
        message = redact(str(exc) or type(exc).__name__)
        if isinstance(exc, json.JSONDecodeError):  # the SDK's SSE decoder met data that is not JSON
            message = f"the server sent an event that is not valid JSON ({message})"
        if recorder.response_id and not reported:
            return "incomplete", f"the stream broke off: {message}"
        return "failed", message

    def _explain(self, exc: Exception, turn: Turn) -> AssistantError:
        timeout = self.assistant.settings.timeout
        if turn.status == "incomplete":  # the server was reached; the answer stopped half-way
            why = (
                f"nothing more arrived for {timeout:g} s, the timeout (ASSISTANT_TIMEOUT)"
                if isinstance(exc, openai.APITimeoutError)
                else turn.error
            )
            return TurnFailed(
                f"The answer from {self.assistant.server_url} broke off after {len(turn.text)} characters "
                f"({why}). What arrived is saved in thread {turn.thread_id}; ask again to continue.",
                turn=turn,
            )
        return explain(exc, base_url=self.assistant.server_url, model=turn.model, turn=turn, timeout=timeout)


def _turn_indexed(event: Event, offset: int) -> Event:
    """A backend event with its output index counted over the whole turn: a later round's items come after
    the earlier rounds' items and function outputs, so UIs and the index never see two items at one index."""
    if not offset:
        return event
    match event:
        case TextDelta() | ItemAdded() | ItemDone() | ToolCallProgress() | Citation():
            return replace(event, output_index=event.output_index + offset)
    return event


# -- the drivers -----------------------------------------------------------------------------------------------------


def run_turn(steps: Steps) -> Generator[Event, None, None]:
    """Run a turn's steps with plain calls; yield its events."""
    return drive(steps, _PlainCalls().perform)


def arun_turn(steps: Steps) -> AsyncGenerator[Event, None]:
    """Run a turn's steps with awaits: the same turn as `run_turn`, without blocking the event loop. Closing
    the iterator (`aclose`) or cancelling its task reaches the steps, which record the turn as cancelled."""
    return adrive(steps, _Awaits().perform)


class _PlainCalls:
    """A turn's effects, performed with plain calls."""

    def __init__(self) -> None:
        self.stream: Generator[Event, None, None] | None = None

    def perform(self, effect: Effect) -> Any:
        match effect:
            case OpenRound(backend=backend, request=request):
                self.stream = backend.stream(request)
            case NextEvent():
                assert self.stream is not None
                return next(self.stream, None)
            case CloseRound():
                if self.stream is not None:
                    self.stream.close()
                self.stream = None
            case CreateConversation(backend=backend, request=request):
                return backend.create_conversation(request)
            case DiscardConversation(backend=backend, conversation_id=conversation_id):
                backend.discard_conversation(conversation_id)
            case RunCalls(calls=calls, functions=functions, approve=approve):
                return run_calls(calls, functions, approve)
            case TakeLease(store=store, lease=lease):
                return store.take_lease(lease)
            case Wait(seconds=seconds):
                time.sleep(seconds)
            case IndexWork(work=work):
                return work()
        return None


class _Awaits:
    """A turn's effects, performed with awaits: blocking index work on worker threads."""

    def __init__(self) -> None:
        self.stream: AsyncGenerator[Event, None] | None = None

    async def perform(self, effect: Effect) -> Any:
        match effect:
            case OpenRound(backend=backend, request=request):
                self.stream = backend.astream(request)
            case NextEvent():
                assert self.stream is not None
                return await anext(self.stream, None)
            case CloseRound():
                if self.stream is not None:
                    await self.stream.aclose()
                self.stream = None
            case CreateConversation(backend=backend, request=request):
                return await backend.acreate_conversation(request)
            case DiscardConversation(backend=backend, conversation_id=conversation_id):
                await backend.adiscard_conversation(conversation_id)
            case RunCalls(calls=calls, functions=functions, approve=approve):
                return await arun_calls(calls, functions, approve)
            case TakeLease(store=store, lease=lease):
                return await _take_lease(store, lease)
            case Wait(seconds=seconds):
                await asyncio.sleep(seconds)
            case IndexWork(work=work):
                return await asyncio.to_thread(work)
        return None


async def _take_lease(store: IndexStore, lease: Lease) -> LeaseHolder | None:
    """store.take_lease off the event loop. Cancelled while it runs, the lease it may still take is let go
    when it has."""
    taking = asyncio.ensure_future(asyncio.to_thread(store.take_lease, lease))
    try:
        return await asyncio.shield(taking)
    except asyncio.CancelledError:
        taking.add_done_callback(lambda _: store.release_lease(lease))
        raise
