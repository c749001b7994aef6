"""Creating one response: check the request, assemble the prompt from server state, run the engine, and record.

State rules (SDK docstrings, openai-api.md section 4.1):
- `conversation`: its items are prepended to the input; after the response completes (or ends incomplete) the
  request's input items and the output items are appended to it. A failed, cancelled or cut response adds nothing.
- `previous_response_id`: the prompt is that response's whole prompt + its output + the new input. It cannot be
  combined with `conversation` (400), and must name a stored response (400 previous_response_not_found).
- `instructions` belong to one request and are never carried over.
- `store: false`: nothing is kept, so the response can be neither retrieved nor chained.

Everything is persisted *before* the terminal event is handed to the client, so a client that reads the terminal
event and immediately lists the conversation sees the new items.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import errors
from .engines.base import Annotation, Finish, GenerationOptions, GenerationRequest, TextDelta, ToolCall, Usage
from .engines.registry import EngineRegistry, ServedModel
from .errors import ApiError
from .hosted_tools import HostedTools, hosted_tool_kinds, tool_usage
from .ids import new_id
from .items import Item, normalize_input
from .response_object import new_response, usage_object
from .sse import Event, EventSequencer, MessageEvents
from .store import ServerStore, StoredResponse

logger = logging.getLogger(__name__)

MAX_METADATA_PAIRS = 16
MAX_TOOL_CALLS = 8  # per response, unless the request's max_tool_calls says fewer: a loop guard for engines


@dataclass
class PreparedResponse:
    id: str
    request: dict[str, Any]
    served: ServedModel
    input_items: list[Item]  # this request's own input, canonical
    context: list[Item]  # history + input: what the engine sees
    conversation_id: str | None
    store: bool
    background: bool
    stream: bool

    @property
    def persisted(self) -> bool:
        # Background responses must be pollable whatever `store` says (recorded: background + store=false is
        # still retrievable with GET).
        return self.store or self.background


class ResponseRunner:
    def __init__(self, store: ServerStore, engines: EngineRegistry, hosted_tools: HostedTools | None = None) -> None:
        self.store = store
        self.engines = engines
        self.hosted_tools = hosted_tools
        self._fail_interrupted()

    # -- request checks ---------------------------------------------------------------------------------------

    def prepare(self, body: Any) -> PreparedResponse:
        if not isinstance(body, dict):
            raise errors.invalid_type("body", "an object", body)
        model = body.get("model")
        if model is None:
            raise errors.missing_parameter("model")
        if not isinstance(model, str):
            raise errors.invalid_type("model", "a string", model)
        for flag in ("stream", "background", "store", "parallel_tool_calls"):
            if body.get(flag) is not None and not isinstance(body[flag], bool):
                raise errors.invalid_type(flag, "a boolean", body[flag])
        for text_param in ("instructions", "previous_response_id"):
            if body.get(text_param) is not None and not isinstance(body[text_param], str):
                raise errors.invalid_type(text_param, "a string", body[text_param])
        _check_max_output_tokens(body.get("max_output_tokens"))
        check_metadata(body.get("metadata"))
        served = self.engines.resolve(model)
        if served is None:
            raise errors.model_not_found(model)

        conversation_id = _conversation_id(body.get("conversation"))
        previous_id = body.get("previous_response_id")
        if conversation_id and previous_id:
            raise ApiError(
                400,
                "Mutually exclusive parameters. Ensure you are only providing one of: 'previous_response_id' or "
                "'conversation'.",
                code="mutually_exclusive_parameters",
            )
        history: list[Item] = []
        if conversation_id:
            if self.store.get_conversation(conversation_id) is None:
                raise errors.not_found("Conversation", conversation_id)
            history = self.store.conversation_items(conversation_id)
        if previous_id:
            previous = self.store.get_response(previous_id)
            if previous is None:  # never stored (store=false), deleted, or unknown
                raise ApiError(
                    400,
                    f"Previous response with id '{previous_id}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            history = previous.context + list(previous.body.get("output") or [])

        if self.hosted_tools is not None:
            self.hosted_tools.check_request(body)
        raw_input = body.get("input")
        if raw_input is None and not (conversation_id or previous_id or body.get("prompt")):
            raise errors.missing_parameter("input")
        input_items = normalize_input(raw_input) if raw_input is not None else []
        return PreparedResponse(
            id=new_id("resp"),
            request=body,
            served=served,
            input_items=input_items,
            context=history + input_items,
            conversation_id=conversation_id,
            store=body.get("store") is not False,
            background=bool(body.get("background")),
            stream=bool(body.get("stream")),
        )

    # -- generation -------------------------------------------------------------------------------------------

    def run(self, prepared: PreparedResponse, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Yield the response's SSE events in order; the last one is terminal unless cancelled or abandoned."""
        request = prepared.request
        obfuscate = (request.get("stream_options") or {}).get("include_obfuscation", True) is not False
        body = new_response(prepared.id, request, status="queued" if prepared.background else "in_progress")
        seq = EventSequencer()
        log: list[Event] = []
        finished = False

        def emit(event: Event) -> Event:
            log.append(event)
            return event

        try:
            yield emit(seq.event("response.created", response=body))
            if prepared.background:
                yield emit(seq.event("response.queued", response=body))
                body["status"] = "in_progress"
            yield emit(seq.event("response.in_progress", response=body))
            self._persist(prepared, body, log)

            output: list[Item] = []
            context = list(prepared.context)
            usage = Usage(0, 0)
            web_searches = 0
            tool_calls_left = min(request.get("max_tool_calls") or MAX_TOOL_CALLS, MAX_TOOL_CALLS)
            while True:
                # One engine pass: text (with citations) and at most one hosted tool call. After a tool call the
                # engine is asked again with the call and its result in its prompt, to answer from them.
                message: MessageEvents | None = None
                finish: Finish | None = None
                call: ToolCall | None = None
                for step in prepared.served.engine.generate(self._generation_request(prepared, context)):
                    if cancel is not None and cancel.is_set():
                        body["status"] = "cancelled"
                        self._persist(prepared, body, log)
                        finished = True
                        return
                    if isinstance(step, (TextDelta, Annotation)):
                        if message is None:
                            message = MessageEvents(seq, new_id("msg"), output_index=len(output), obfuscate=obfuscate)
                            for event in message.opening():
                                yield emit(event)
                        if isinstance(step, TextDelta):
                            yield emit(message.delta(step.text))
                        else:
                            yield emit(message.annotation(dict(step.annotation)))
                    elif isinstance(step, ToolCall):
                        call = step
                    elif isinstance(step, Finish):
                        finish = step
                if finish is None:
                    raise RuntimeError("engine ended without a Finish step")
                usage = _add_usage(usage, finish.usage)
                incomplete = finish.reason == "max_output_tokens"
                if message is not None:
                    for event in message.closing("incomplete" if incomplete else "completed"):
                        yield emit(event)
                    output.append(message.item("incomplete" if incomplete else "completed"))
                    context.append(output[-1])
                if call is None or incomplete:
                    break
                if self.hosted_tools is None or call.kind == "function" or tool_calls_left <= 0:
                    # Function calls end a response with a function_call item: not supported by this server yet.
                    terminal = self._fail(prepared, body, seq, "The local server cannot run this tool call.")
                    finished = True
                    yield emit(terminal)
                    self._persist(prepared, body, log)
                    return
                tool_calls_left -= 1
                running = self.hosted_tools.run(call, request=request, context=context, seq=seq,
                                                output_index=len(output), obfuscate=obfuscate)
                while True:
                    try:
                        event = next(running)
                    except StopIteration as stop:
                        outcome = stop.value
                        break
                    yield emit(event)
                output.append(outcome.item)
                context.append(outcome.context_item)
                web_searches += outcome.web_search_requests

            body["output"] = output
            if hosted_tool_kinds(request):
                body["tool_usage"] = tool_usage(web_searches)
            body["status"] = "incomplete" if incomplete else "completed"
            body["incomplete_details"] = {"reason": "max_output_tokens"} if incomplete else None
            body["completed_at"] = None if incomplete else int(time.time())
            body["usage"] = usage_object(usage)
            terminal = seq.event("response.incomplete" if incomplete else "response.completed", response=body)
            log.append(terminal)
            self._persist(prepared, body, log)
            if prepared.conversation_id:
                self.store.add_conversation_items(prepared.conversation_id, prepared.input_items + body["output"])
            finished = True
            yield terminal
        except Exception:
            if finished:
                raise
            logger.exception("engine failed while generating %s", prepared.id)
            terminal = self._fail(prepared, body, seq, "The server had an error while processing your request.")
            finished = True
            yield emit(terminal)
            self._persist(prepared, body, log)
        finally:
            if not finished:
                # Abandoned mid-stream (client gone, or a cut-stream fault): record an honest failure.
                body["status"] = "failed"
                body["error"] = {"code": "server_error", "message": "The response stream was interrupted."}
                self._persist(prepared, body, log)

    def _generation_request(self, prepared: PreparedResponse, context: list[Item]) -> GenerationRequest:
        request = prepared.request
        return GenerationRequest(
            model=request["model"],
            instructions=request.get("instructions"),
            input_items=context,
            options=GenerationOptions(
                max_output_tokens=request.get("max_output_tokens"),
                temperature=request.get("temperature"),
                top_p=request.get("top_p"),
                reasoning_effort=(request.get("reasoning") or {}).get("effort"),
                tools=request.get("tools") or (),
                tool_choice=request.get("tool_choice") or "auto",
                prompt_cache_key=request.get("prompt_cache_key"),
            ),
        )

    def _fail(self, prepared: PreparedResponse, body: dict, seq: EventSequencer, message: str) -> Event:
        body["status"] = "failed"
        body["error"] = {"code": "server_error", "message": message}
        body["usage"] = usage_object(Usage(0, 0))
        return seq.event("response.failed", response=body)

    def _persist(self, prepared: PreparedResponse, body: dict, log: list[Event]) -> None:
        if prepared.persisted:
            self.store.save_response(
                StoredResponse(prepared.id, body, prepared.input_items, prepared.context, list(log))
            )

    def _fail_interrupted(self) -> None:
        """Background responses left running by a previous server process can never finish: say so."""
        for response_id in self.store.unfinished_response_ids():
            stored = self.store.get_response(response_id)
            if stored is None:
                continue
            stored.body["status"] = "failed"
            stored.body["error"] = {"code": "server_error", "message": "The server restarted before this response finished."}
            self.store.save_response(stored)


def _add_usage(total: Usage, more: Usage) -> Usage:
    return Usage(
        input_tokens=total.input_tokens + more.input_tokens,
        output_tokens=total.output_tokens + more.output_tokens,
        cached_tokens=total.cached_tokens + more.cached_tokens,
        reasoning_tokens=total.reasoning_tokens + more.reasoning_tokens,
    )


def _conversation_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    raise errors.invalid_type("conversation", "one of a string or an object with an id", value)


def _check_max_output_tokens(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.invalid_type("max_output_tokens", "an integer", value)
    if value < 16:
        raise errors.integer_out_of_range("max_output_tokens", value, minimum=16)


def check_metadata(value: Any, param: str = "metadata") -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise errors.invalid_type(param, "a metadata object", value)
    if len(value) > MAX_METADATA_PAIRS:
        raise ApiError(
            400,
            f"Invalid '{param}': too many properties. Expected an object with at most {MAX_METADATA_PAIRS} "
            f"properties, but got an object with {len(value)} properties instead.",
            param=param,
            code="object_above_max_properties",
        )

