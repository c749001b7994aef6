"""A thread: a conversation whose state lives on the server and whose record lives in the index.

`Thread.stream()` is the one path every turn takes (`ask`, the CLI and the TUI all use it or its async twin):
record the user's message, run the backend, record its events, close the turn with an honest status.

Your own functions run here, above the backends, so the loop is the same for Responses and Chat Completions:
when a round's response ends in `function_call` items and the turn has functions, they run (concurrently when
several), each emits a `function.result` event, and their outputs go back in a new round (only the outputs with
`conversation=` or `previous_response_id`; the whole history in local and chat mode) until the model answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import openai

from assistant.backends.backend import Backend, LocalFile, TurnRequest
from assistant.errors import AssistantError, StructuredAnswerError, TurnFailed, explain, redact
from assistant.events import TERMINAL_TYPE_OF_STATUS, Event, FunctionResult, StateRebuilt, TurnEnded, TurnStarted
from assistant.functions import (
    Approver,
    FunctionCall,
    FunctionOutcome,
    FunctionTool,
    arun_calls,
    as_tools,
    function_tool,
    run_calls,
)
from assistant.index.recorder import TurnRecorder
from assistant.index.records import Lease, LeaseHolder, ThreadChange, ThreadInfo
from assistant.metering import metering
from assistant.structured import AnswerSchema, answer_schema, parse_answer
from assistant.tool_settings import ToolSettings, parse_tools
from assistant.turn import Turn

if TYPE_CHECKING:
    from assistant.client import Assistant

MODES = ("conversation", "chain", "local", "chat")
# Modes that send the whole history every turn, rebuilt from the index.
HISTORY_MODES = ("local", "chat")


def check_message(text: object) -> None:
    if not isinstance(text, str) or not text.strip():
        raise AssistantError("Nothing to send: the message is empty.")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"Unknown thread mode {mode!r}; use one of: {', '.join(MODES)}.")


# A turn is sent again at most this often: once to rebuild lost state, once more to fall back to chat mode.
MAX_RECOVERIES = 2


# Rounds of function calls one turn may run before the model is told to answer without more calls.
MAX_FUNCTION_ROUNDS = 10

# A chain-mode turn waiting for another turn's lease on the thread tries again after this long, twice as long each
# time up to the longest.
LEASE_FIRST_WAIT_S = 0.05
LEASE_LONGEST_WAIT_S = 1.0


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

    def calls(self, recorder: TurnRecorder) -> list[FunctionCall]:
        """The function calls the round that just ended asks this turn to run (none without functions: the
        turn then ends with the calls as items, for the caller to handle)."""
        ended = recorder.ended
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


class Thread:
    def __init__(self, assistant: Assistant, info: ThreadInfo) -> None:
        self._assistant = assistant
        self._id = info.id
        self._known: ThreadInfo | None = info  # None: the index has moved on; read again when next needed
        # Your functions live on this object, not in the index (code cannot be stored): register them again
        # on a thread reopened by id.
        self._functions: dict[str, FunctionTool] = {}
        self.approve: Approver | None = None  # asked before a function that requires approval runs

    def __repr__(self) -> str:
        return f"<Thread {self.id} {self.title!r} mode={self.mode}>"

    @property
    def _info(self) -> ThreadInfo:
        if self._known is None:
            self._known = self._assistant.store.thread(self._id)
        return self._known

    @property
    def info(self) -> ThreadInfo:
        """The thread as the index last showed it (turn count, parent of a fork, …)."""
        return self._info

    @property
    def id(self) -> str:
        return self._id

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
        """The hosted tools the thread's turns may use (a setting, not activity: the thread keeps its place)."""
        self._assistant.store.update_thread(self.id, touch=False, tools=parse_tools(tools).to_json())
        self.refresh()

    # your functions

    @property
    def functions(self) -> list[FunctionTool]:
        """The functions every turn of this thread offers (a turn adds more with `functions=`)."""
        return list(self._functions.values())

    def add_functions(self, *functions: Any) -> None:
        """Offer these callables (or `function_tool(...)` ones) to every turn of this thread."""
        self._functions.update(as_tools(functions))

    def function(self, target: Any = None, **options: Any) -> Any:
        """Decorator: `@t.function` or `@t.function(requires_approval=True, name=..., description=...)`
        registers a function on the thread and returns it as a FunctionTool (still callable)."""

        def register(function: Any) -> FunctionTool:
            tool = function_tool(function, **options)
            self._functions[tool.name] = tool
            return tool

        return register(target) if target is not None else register

    def remove_function(self, name: str) -> None:
        self._functions.pop(name, None)

    @property
    def conversation_id(self) -> str | None:
        return self._info.conversation_id

    @property
    def last_response_id(self) -> str | None:
        return self._info.last_response_id

    def refresh(self) -> None:
        """Re-read the thread from the index (another process may have moved it on)."""
        self._known = self._assistant.store.thread(self.id)

    def history(self) -> list[Turn]:
        """Every turn of the thread from the index, oldest first, with its items."""
        return self._assistant.store.turns(self.id)

    def changes(self) -> list[ThreadChange]:
        """What happened to the thread's state outside its turns: mode switches, rebuilds, forks, repairs."""
        return self._assistant.store.changes(self.id)

    def file_paths(self) -> dict[str, str]:
        """Where the files this thread's answers may cite are on this machine, by file id: the thread's uploads
        (the index keeps a copy of each) and the files the code interpreter made (downloaded beside the index).
        A file with no copy here is left out."""
        paths = {record.id: record.path for record in self._assistant.files.list(self.id) if record.path}
        made = self._assistant.store.container_files(self.id)
        paths.update({record.file_id: record.path for record in made if record.path})
        return paths

    def set_mode(self, mode: str) -> None:
        """Move the thread to another state mode, losing nothing: the index holds every item, and the next
        turn rebuilds whatever server state the new mode needs (a seeded conversation, a chain head)."""
        check_mode(mode)
        if mode == self.mode:
            return
        self._assistant.store.record_change(
            self.id, "mode_changed", f"{self.mode} -> {mode}", mode=mode, conversation_id=None, last_response_id=None
        )
        self.refresh()

    def fork(self, at_turn: int, *, title: str | None = None) -> Thread:
        """A new thread sharing this one's history up to turn `at_turn` (1-based; 0 keeps no turns, e.g. to
        edit the first message), for trying another way from there. Its server state is new: a conversation
        seeded from those turns on its first turn, or in chain mode the response of turn `at_turn` as its
        chain head."""
        turns = self.history()
        if not 0 <= at_turn <= len(turns):
            raise AssistantError(f"Cannot fork at turn {at_turn}: thread {self.id} has turns 1 to {len(turns)}.")
        head = turns[at_turn - 1] if at_turn else None
        chain_head = (
            head.response_id if head and self.mode == "chain" and head.status in ("completed", "incomplete") else None
        )
        info = self._assistant.store.fork_thread(
            self._info, at_turn, title=title or f"{self.title} (fork)".strip(), last_response_id=chain_head
        )
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

    def stream(self, text: str, **options: Any) -> Generator[Event, None, None]:
        """Send `text`; yield the turn's events as they arrive, ending with one TurnEnded. Closing the generator
        early cancels the turn, which is recorded as cancelled with what had arrived.

        Options beyond the API's (`model`, `instructions`, `tools`, `max_output_tokens`, ...):
        `functions=[callable, ...]` your own tools for this turn (added to the thread's), `approve=callback`
        for functions that require approval, `max_function_rounds=N`, and `schema=` (a pydantic model class
        or a JSON schema) for a structured answer, parsed into `turn.parsed`."""
        extras = self._extras(options)
        check_message(text)
        lease = self._lease()
        if lease is not None:
            waits = LeaseWaits(self.id, lease)
            while (holder := self._assistant.store.take_lease(lease)) is not None:
                time.sleep(waits.after(holder))
        try:
            backend, request = self._prepare(text, options)
            request = self._with_extras(request, extras)
            recorder = TurnRecorder(self._assistant.store, request, backend=backend.name, lease=lease)
        except BaseException:
            self._release(lease)
            raise
        request = replace(request, claim_conversation=recorder.claim_conversation)
        yield TurnStarted(thread_id=self.id, turn_id=recorder.turn_id)
        try:
            with metering(recorder):
                while True:
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
                    calls = extras.calls(recorder)
                    if not calls or self._out_of_rounds(recorder, extras):
                        break
                    outcomes = (
                        self._refused_past_limit(calls, extras)
                        if self._at_limit(recorder, extras)
                        else run_calls(calls, extras.functions, extras.approve)
                    )
                    yield from self._results(outcomes, recorder)
                    request = self._next_round(request, recorder, outcomes, extras)
        except (GeneratorExit, KeyboardInterrupt):
            self._close(recorder, "cancelled", "cancelled before the answer finished")
            raise
        except Exception as exc:
            turn = self._close(recorder, *self._failure(recorder, exc))
            yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
            raise self._explain(exc, turn) from exc
        turn = self._close(recorder)
        yield from self._assistant.containers.after_turn(turn)
        turn, problem = self._parsed(turn, extras)
        yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
        if turn.status == "failed":
            raise TurnFailed(f"The response failed: {turn.error}", turn=turn)
        if problem is not None:
            raise problem

    async def aask(self, text: str, **options: Any) -> Turn:
        turn = None
        async for event in self.astream(text, **options):
            if isinstance(event, TurnEnded):
                turn = event.turn
        assert turn is not None
        return turn

    async def astream(self, text: str, **options: Any) -> AsyncGenerator[Event, None]:
        """The async twin of `stream`: async functions are awaited, sync ones run in worker threads, and the
        approval callback may be a coroutine (a dialog). Closing the generator early (`contextlib.aclosing`)
        cancels the turn, which is recorded as cancelled with what had arrived."""
        extras = self._extras(options)
        check_message(text)
        # Taking the lease, reading the history (all of it in local and chat mode) and writing the turn row are
        # blocking index work: off the event loop, so an app streaming this turn never stutters.
        lease = self._lease()
        if lease is not None:
            waits = LeaseWaits(self.id, lease)
            while (holder := await self._atake_lease(lease)) is not None:
                await asyncio.sleep(waits.after(holder))
        try:
            backend, request = await asyncio.to_thread(self._prepare, text, options)
            request = self._with_extras(request, extras)
            recorder = await asyncio.to_thread(
                TurnRecorder, self._assistant.store, request, backend=backend.name, lease=lease
            )
        except BaseException:
            self._release(lease)
            raise
        request = replace(request, claim_conversation=recorder.claim_conversation)
        yield TurnStarted(thread_id=self.id, turn_id=recorder.turn_id)
        try:
            with metering(recorder):
                while True:
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
                    calls = extras.calls(recorder)
                    if not calls or self._out_of_rounds(recorder, extras):
                        break
                    outcomes = (
                        self._refused_past_limit(calls, extras)
                        if self._at_limit(recorder, extras)
                        else await arun_calls(calls, extras.functions, extras.approve)
                    )
                    for result in self._results(outcomes, recorder):
                        yield result
                    request = self._next_round(request, recorder, outcomes, extras)
        except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt):
            self._close(recorder, "cancelled", "cancelled before the answer finished")
            raise
        except Exception as exc:
            turn = self._close(recorder, *self._failure(recorder, exc))
            yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
            raise self._explain(exc, turn) from exc
        turn = await asyncio.to_thread(self._close, recorder)
        for notice in await asyncio.to_thread(self._assistant.containers.after_turn, turn):
            yield notice
        turn, problem = self._parsed(turn, extras)
        yield TurnEnded(turn=turn, type=TERMINAL_TYPE_OF_STATUS[turn.status])
        if turn.status == "failed":
            raise TurnFailed(f"The response failed: {turn.error}", turn=turn)
        if problem is not None:
            raise problem

    # the parts both twins share

    def _lease(self) -> Lease | None:
        """The lease a turn of this thread must hold on it: in chain mode, where two turns continuing the same
        head at once would fork the chain on the server (the last to finish would win the thread's head, and
        the other turn would be in the index but not in the chain). A turn waits for the turn holding it, up to
        the timeout (ASSISTANT_TIMEOUT), then continues from that turn's answer."""
        if self.mode != "chain":
            return None
        return Lease.new(self.id, timedelta(seconds=self._assistant.settings.timeout))

    async def _atake_lease(self, lease: Lease) -> LeaseHolder | None:
        """store.take_lease off the event loop. Cancelled while it runs, the lease it may still take is let go
        when it has."""
        taking = asyncio.ensure_future(asyncio.to_thread(self._assistant.store.take_lease, lease))
        try:
            return await asyncio.shield(taking)
        except asyncio.CancelledError:
            taking.add_done_callback(lambda _: self._release(lease))
            raise

    def _release(self, lease: Lease | None) -> None:
        if lease is not None:
            self._assistant.store.release_lease(lease)

    @staticmethod
    def _recorded(events: Iterator[Event], recorder: TurnRecorder) -> Iterator[Event]:
        for event in events:
            event = _turn_indexed(event, recorder.position_offset)
            recorder.record(event)
            if event.type != "response.ended":  # the thread says how the turn ended, with TurnEnded
                yield event

    @staticmethod
    async def _arecorded(events: AsyncIterator[Event], recorder: TurnRecorder) -> AsyncIterator[Event]:
        async for event in events:
            event = _turn_indexed(event, recorder.position_offset)
            recorder.record(event)
            if event.type != "response.ended":
                yield event

    # your functions and structured answers

    def _extras(self, options: dict[str, Any]) -> TurnExtras:
        """Take this library's own options out of `options` (the rest go to the API)."""
        functions = dict(self._functions)
        functions.update(as_tools(options.pop("functions", None)))
        schema = options.pop("schema", None)
        approve = options.pop("approve", None) or self.approve
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
    def _out_of_rounds(recorder: TurnRecorder, extras: TurnExtras) -> bool:
        """The model was told to answer without more calls and still called: end the turn, incomplete."""
        if recorder.rounds <= extras.max_rounds + 1:
            return False
        assert recorder.ended is not None
        recorder.ended = replace(
            recorder.ended,
            status="incomplete",
            incomplete_reason="max_function_rounds",
            error=f"the model kept calling functions after {extras.max_rounds} rounds",
        )
        return True

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
        self.refresh()  # the conversation the first round created, if it did
        thread = self._info
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
            self._assistant.store.update_turn(turn.id, error=str(error))
            turn = self._assistant.store.turn(turn.id)
            return turn, StructuredAnswerError(str(error), turn=turn, refusal=error.refusal, problem=error.problem)
        return replace(turn, parsed=parsed), None

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
            reason = (
                f"{exc.request.url} answered {exc.status_code}: this server has no Responses API; "
                "the thread now uses Chat Completions (chat mode)"
            )
            store.record_change(
                self.id,
                "mode_changed",
                f"{self.mode} -> chat: {reason}",
                mode="chat",
                conversation_id=None,
                last_response_id=None,
            )
            notice = StateRebuilt(reason=reason)
        else:
            return None
        self.refresh()
        resent = replace(request, thread=self._info, history=store.replay_items(self.id))
        backend = self._assistant.backend_for(self.mode)
        recorder.resend(resent, backend=backend.name)
        return Recovery(notice=notice, request=resent, backend=backend)

    def _prepare(self, text: str, options: dict[str, Any]) -> tuple[Backend, TurnRequest]:
        self.refresh()  # the conversation id or chain head may have moved on in another process
        model = options.pop("model", None) or self.model
        instructions = options.pop("instructions", None) or self.instructions
        history = self._assistant.store.replay_items(self.id) if self._needs_history() else []
        settings = parse_tools(options.pop("tools")) if "tools" in options else self.tools
        own_store = self._assistant.store.thread_vector_store(self.id) if settings.file_search else None
        tools = settings.api_tools([own_store] if own_store else [])
        # Local copies of the thread's files, for backends that search them on the client (chat mode, and a turn
        # that falls back to it).
        local_files = (
            [
                LocalFile(record.id, record.filename, record.path)
                for record in self._assistant.store.thread_files(self.id)
                if record.path
            ]
            if settings.file_search
            else []
        )
        request = TurnRequest(
            thread=self._info,
            input_text=text,
            model=model,
            instructions=instructions,
            options=options,
            history=history,
            tools=tools,
            include=settings.includes() if tools else [],
            local_files=local_files,
        )
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
        self._known = None  # the turn moved the thread on: read it again when next asked, not now (hot path)
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
        timeout = self._assistant.settings.timeout
        if turn.status == "incomplete":  # the server was reached; the answer stopped half-way
            why = (
                f"nothing more arrived for {timeout:g} s, the timeout (ASSISTANT_TIMEOUT)"
                if isinstance(exc, openai.APITimeoutError)
                else turn.error
            )
            return TurnFailed(
                f"The answer from {self._assistant.server_url} broke off after {len(turn.text)} characters "
                f"({why}). What arrived is saved in thread {turn.thread_id}; ask again to continue.",
                turn=turn,
            )
        return explain(exc, base_url=self._assistant.server_url, model=turn.model, turn=turn, timeout=timeout)


def _turn_indexed(event: Event, offset: int) -> Event:
    """A backend event with its output index counted over the whole turn: a later round's items come after
    the earlier rounds' items and function outputs, so UIs and the index never see two items at one index."""
    if offset and hasattr(event, "output_index"):
        return replace(event, output_index=event.output_index + offset)  # type: ignore[type-var]
    return event
