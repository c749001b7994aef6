"""Creating one response: check the request, assemble the prompt from server state, run the engine, and record.

State rules (the SDK's docstrings and OpenAI's "Conversation state" guide):
- `conversation`: its items are prepended to the input; after the response completes (or ends incomplete) the
  request's input items and the output items are appended to it. A failed, cancelled or cut response adds nothing.
- `previous_response_id`: the prompt is that response's whole prompt + its output + the new input. It cannot be
  combined with `conversation` (400), and must name a stored response (400 previous_response_not_found).
- `instructions` belong to one request and are never carried over.
- `store: false`: nothing is kept, so the response can be neither retrieved nor chained.

Function tools: an engine's `ToolCall` of kind "function" ends the response (status completed) with one
`function_call` item per call, streamed as recorded: `output_item.added` (arguments "") >
`function_call_arguments.delta`+ > `.done` > `output_item.done`. Several calls in one engine pass are parallel
calls. The client runs them and sends `function_call_output` items back in a new response.

Structured answers (`text.format` json_schema / json_object): the engine's prose is shaped into JSON that
validates against the schema (`structured_output.py`, shared with the Chat route) before any of it is streamed;
when no valid document can be built the response fails and says why, never returning output that breaks the
schema. An unusable format (no schema, an invalid schema, no name) is a 400 before anything starts.

Everything is persisted *before* the terminal event is handed to the client, so a client that reads the terminal
event and immediately lists the conversation sees the new items.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import error_responses
from .engines.engine import Annotation, Finish, GenerationOptions, GenerationRequest, TextDelta, ToolCall, Usage
from .engines.registry import EngineRegistry, ServedModel
from .error_responses import ApiError
from .hosted_tools import HostedTools, hosted_tool_kinds, tool_usage
from .ids import new_id
from .items import Item, normalize_input
from .request_parsing import check_metadata
from .response_object import new_response, usage_object
from .sse import Event, EventSequencer, MessageEvents, obfuscation
from .state import History, ResponseRecord, ServerStore
from .structured_output import UnsatisfiableFormat, check_format, json_output, within_limit
from .tool_call_rules import check_response

logger = logging.getLogger(__name__)

MAX_TOOL_CALLS = 8  # per response, unless the request's max_tool_calls says fewer: a loop guard for engines


@dataclass
class PreparedResponse:
    id: str
    request: dict[str, Any]
    served: ServedModel
    input_items: list[Item]  # this request's own input, canonical
    context: list[Item]  # history + input: what the engine sees
    history: History  # where the history came from, which is how the store keeps it
    conversation_id: str | None
    store: bool
    background: bool
    stream: bool
    obfuscation_seed: str | None  # what the stream's delta padding is drawn from; None: the client turned it off

    @property
    def persisted(self) -> bool:
        # Background responses must be pollable whatever `store` says (recorded: background + store=false is
        # still retrievable with GET).
        return self.store or self.background


class ResponseRunner:
    def __init__(
        self,
        store: ServerStore,
        engines: EngineRegistry,
        hosted_tools: HostedTools | None = None,
        *,
        strict: bool = True,
    ) -> None:
        """`strict`: refuse what the real API refuses beyond a request's shape (tool_call_rules.py); False
        keeps the permissive behaviour of `assistant serve --lenient`."""
        self.store = store
        self.engines = engines
        self.hosted_tools = hosted_tools
        self.strict = strict
        self._fail_interrupted()

    # -- request checks ---------------------------------------------------------------------------------------

    def prepare(self, body: Any) -> PreparedResponse:
        if not isinstance(body, dict):
            raise error_responses.invalid_type("body", "an object", body)
        model = body.get("model")
        if model is None:
            raise error_responses.missing_parameter("model")
        if not isinstance(model, str):
            raise error_responses.invalid_type("model", "a string", model)
        for flag in ("stream", "background", "store", "parallel_tool_calls"):
            if body.get(flag) is not None and not isinstance(body[flag], bool):
                raise error_responses.invalid_type(flag, "a boolean", body[flag])
        for text_param in ("instructions", "previous_response_id"):
            if body.get(text_param) is not None and not isinstance(body[text_param], str):
                raise error_responses.invalid_type(text_param, "a string", body[text_param])
        _check_max_output_tokens(body.get("max_output_tokens"))
        check_metadata(body.get("metadata"))
        _check_reasoning(body.get("reasoning"))
        _check_echoed_settings(body)
        if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
            # run() reads it once the response has started: a wrong type must be refused here, not crash there
            raise error_responses.invalid_type("stream_options", "an object", body["stream_options"])
        served = self.engines.resolve(model)
        if served is None:
            raise error_responses.model_not_found(model)

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
        source = History()
        if conversation_id:
            if self.store.get_conversation(conversation_id) is None:
                raise error_responses.not_found("Conversation", conversation_id)
            history, tick = self.store.conversation_snapshot(conversation_id)
            source = History(conversation_id=conversation_id, conversation_tick=tick)
        if previous_id:
            transcript = self.store.response_transcript(previous_id)
            if transcript is None:  # never stored (store=false), deleted, or unknown
                raise ApiError(
                    400,
                    f"Previous response with id '{previous_id}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            history, source = transcript, History(previous_response_id=previous_id)

        if self.hosted_tools is not None:
            self.hosted_tools.check_request(body)
        json_format(body)  # a 400 now, rather than a failure after the stream began
        raw_input = body.get("input")
        if raw_input is None and not (conversation_id or previous_id or body.get("prompt")):
            raise error_responses.missing_parameter("input")
        input_items = normalize_input(raw_input) if raw_input is not None else []
        if self.strict:
            check_response(history, input_items, body)
        obfuscate = (body.get("stream_options") or {}).get("include_obfuscation", True) is not False
        return PreparedResponse(
            id=new_id("resp"),
            request=body,
            served=served,
            input_items=input_items,
            context=history + input_items,
            history=source,
            conversation_id=conversation_id,
            store=body.get("store") is not False,
            background=bool(body.get("background")),
            stream=bool(body.get("stream")),
            obfuscation_seed=secrets.token_hex(16) if obfuscate else None,
        )

    # -- generation -------------------------------------------------------------------------------------------

    def run(self, prepared: PreparedResponse, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Yield the response's SSE events in order; the last one is terminal unless cancelled or abandoned."""
        request = prepared.request
        seed = prepared.obfuscation_seed
        body = new_response(prepared.id, request, status="queued" if prepared.background else "in_progress")
        body["model"] = prepared.served.answered_by  # the model that answers, not the id it was asked as
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
            shape = json_format(request)
            while True:
                # One engine pass: text (with citations) and at most one hosted tool call, or function calls.
                # After a hosted tool call the engine is asked again with the call and its result in its
                # prompt, to answer from them; function calls end the response (the client runs them).
                message: MessageEvents | None = None
                finish: Finish | None = None
                call: ToolCall | None = None
                function_calls: list[ToolCall] = []
                answer: list[str] = []  # the prose a JSON answer is shaped from
                for step in prepared.served.engine.generate(self._generation_request(prepared, context)):
                    if cancel is not None and cancel.is_set():
                        body["status"] = "cancelled"
                        self._persist(prepared, body, log)
                        finished = True
                        return
                    if shape is not None and isinstance(step, (TextDelta, Annotation)):
                        if isinstance(step, TextDelta):
                            answer.append(step.text)
                    elif isinstance(step, (TextDelta, Annotation)):
                        if message is None:
                            message = MessageEvents(seq, new_id("msg"), output_index=len(output), obfuscation_seed=seed)
                            for event in message.opening():
                                yield emit(event)
                        if isinstance(step, TextDelta):
                            yield emit(message.delta(step.text))
                        else:
                            yield emit(message.annotation(dict(step.annotation)))
                    elif isinstance(step, ToolCall) and step.kind == "function":
                        function_calls.append(step)
                    elif isinstance(step, ToolCall):
                        call = step
                    elif isinstance(step, Finish):
                        finish = step
                if finish is None:
                    raise RuntimeError("engine ended without a Finish step")
                if shape is not None and not function_calls and call is None:
                    try:
                        document = json_output("".join(answer), shape)
                    except UnsatisfiableFormat as error:
                        terminal = self._fail(
                            prepared, body, seq, f"The local engine cannot answer in the requested format: {error}."
                        )
                        finished = True
                        yield emit(terminal)
                        self._persist(prepared, body, log)
                        return
                    text, produced, cut = within_limit(document, request.get("max_output_tokens"))
                    message = MessageEvents(seq, new_id("msg"), output_index=len(output), obfuscation_seed=seed)
                    for event in message.opening():
                        yield emit(event)
                    for piece in re.findall(r"\S+\s*", text):
                        yield emit(message.delta(piece))
                    finish = Finish(
                        Usage(finish.usage.input_tokens, produced, finish.usage.cached_tokens),
                        "max_output_tokens" if cut else "stop",
                    )
                usage = _add_usage(usage, finish.usage)
                incomplete = finish.reason == "max_output_tokens"
                if message is not None:
                    for event in message.closing("incomplete" if incomplete else "completed"):
                        yield emit(event)
                    output.append(message.item("incomplete" if incomplete else "completed"))
                    context.append(output[-1])
                if function_calls and not incomplete:
                    for function_call in function_calls:
                        item = {
                            "id": new_id("fc"),
                            "type": "function_call",
                            "status": "in_progress",
                            "arguments": "",
                            "call_id": new_id("call"),
                            "name": function_call.name,
                        }
                        for event in function_call_events(seq, item, function_call.arguments, len(output), seed):
                            yield emit(event)
                        output.append({**item, "status": "completed", "arguments": function_call.arguments})
                    break
                if call is None or incomplete:
                    break
                if self.hosted_tools is None or tool_calls_left <= 0:
                    terminal = self._fail(prepared, body, seq, "The local server cannot run this tool call.")
                    finished = True
                    yield emit(terminal)
                    self._persist(prepared, body, log)
                    return
                tool_calls_left -= 1
                running = self.hosted_tools.run(
                    call,
                    request=request,
                    context=context,
                    seq=seq,
                    output_index=len(output),
                    obfuscate=seed is not None,
                )
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
                # A JSON answer is shaped from the whole answer, then cut to the limit as JSON text.
                max_output_tokens=None if json_format(request) else request.get("max_output_tokens"),
                temperature=request.get("temperature"),
                top_p=request.get("top_p"),
                reasoning_effort=(request.get("reasoning") or {}).get("effort"),
                tools=request.get("tools") or (),
                tool_choice=request.get("tool_choice") or "auto",
                prompt_cache_key=request.get("prompt_cache_key"),
            ),
        )

    def _fail(self, prepared: PreparedResponse, body: dict[str, Any], seq: EventSequencer, message: str) -> Event:
        body["status"] = "failed"
        body["error"] = {"code": "server_error", "message": message}
        body["usage"] = usage_object(Usage(0, 0))
        return seq.event("response.failed", response=body)

    def _persist(self, prepared: PreparedResponse, body: dict[str, Any], log: list[Event]) -> None:
        if prepared.persisted:
            self.store.save_response(
                ResponseRecord(
                    prepared.id, body, prepared.input_items, prepared.history, log, prepared.obfuscation_seed
                )
            )

    def _fail_interrupted(self) -> None:
        """Background responses left running by a previous server process can never finish: say so."""
        for response_id in self.store.unfinished_response_ids():
            body = self.store.response(response_id)
            if body is None:
                continue
            body["status"] = "failed"
            body["error"] = {"code": "server_error", "message": "The server restarted before this response finished."}
            self.store.update_response_body(response_id, body)


def json_format(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's `text.format` as the Chat-shaped `response_format` the JSON shaper takes, None for plain
    text. Raises a 400 for a format that cannot be used."""
    text = body.get("text")
    if text is None:
        return None
    if not isinstance(text, dict):
        raise error_responses.invalid_type("text", "an object", text)
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise error_responses.invalid_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise error_responses.invalid_value("text.format.type", kind, ["text", "json_object", "json_schema"])
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if not isinstance(fmt.get("name"), str):
        raise error_responses.missing_parameter("text.format.name")
    if not isinstance(fmt.get("schema"), dict):
        raise error_responses.missing_parameter("text.format.schema")
    shape = {
        "type": "json_schema",
        "json_schema": {"name": fmt["name"], "schema": fmt["schema"], "strict": fmt.get("strict")},
    }
    problem = check_format(shape)
    if problem:
        raise ApiError(
            400,
            f"Invalid schema for response_format '{fmt['name']}': {problem}.",
            param="text.format.schema",
            code="invalid_json_schema",
        )
    return shape


def function_call_events(
    seq: EventSequencer, item: Item, arguments: str, index: int, obfuscation_seed: str | None
) -> Iterator[Event]:
    """A function_call item's events, in the recorded order (llm test_responses_tool_use_streaming).
    `obfuscation_seed`: the response's seed for delta padding, None when the client turned it off."""
    yield seq.event("response.output_item.added", item=item, output_index=index)
    for piece in [arguments[start : start + 4] for start in range(0, len(arguments), 4)] or [arguments]:
        fields: Item = {"delta": piece, "item_id": item["id"]}
        if obfuscation_seed is not None:
            fields["obfuscation"] = obfuscation(obfuscation_seed, seq.next_sequence, piece)
        yield seq.event("response.function_call_arguments.delta", **fields, output_index=index)
    yield seq.event(
        "response.function_call_arguments.done", arguments=arguments, item_id=item["id"], output_index=index
    )
    yield seq.event(
        "response.output_item.done", item={**item, "status": "completed", "arguments": arguments}, output_index=index
    )


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
        conversation_id: str = value["id"]
        return conversation_id
    raise error_responses.invalid_type("conversation", "one of a string or an object with an id", value)


# The settings of `reasoning` the response echoes back, and the values the spec allows them (spec: Reasoning).
_REASONING_VALUES = {
    "effort": ["none", "minimal", "low", "medium", "high", "xhigh", "max"],
    "summary": ["auto", "concise", "detailed"],
    "generate_summary": ["auto", "concise", "detailed"],
    "context": ["auto", "current_turn", "all_turns"],
}


# Settings the response echoes back as sent (response_object.new_response), and the values the spec allows them:
# an echo of anything else would be a response object the SDK rejects.
_SETTING_CHOICES = {
    "truncation": ["auto", "disabled"],
    "service_tier": ["auto", "default", "flex", "scale", "priority", "fast"],
    "prompt_cache_retention": ["in_memory", "24h"],
}
_SETTING_STRINGS = ("prompt_cache_key", "safety_identifier", "user")
_SETTING_DECIMALS = {"temperature": (0, 2), "top_p": (0, 1)}
_SETTING_INTEGERS = {"top_logprobs": (0, 20), "max_tool_calls": (None, None)}
_VERBOSITIES = ["low", "medium", "high"]


def _check_echoed_settings(body: dict[str, Any]) -> None:
    for name, supported in _SETTING_CHOICES.items():
        if body.get(name) is not None and body[name] not in supported:
            raise error_responses.invalid_value(name, body[name], supported)
    for name in _SETTING_STRINGS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise error_responses.invalid_type(name, "a string", body[name])
    for name, (low, high) in _SETTING_DECIMALS.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error_responses.invalid_type(name, "a decimal", value)
        if not low <= value <= high:  # the recorded wording (temperature: -1)
            side, bound, code = (
                ("below minimum", f">= {low}", "decimal_below_min_value")
                if value < low
                else ("above maximum", f"<= {high}", "decimal_above_max_value")
            )
            raise ApiError(
                400,
                f"Invalid '{name}': decimal {side} value. Expected a value {bound}, but got {value} instead.",
                param=name,
                code=code,
            )
    for name, (minimum, maximum) in _SETTING_INTEGERS.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise error_responses.invalid_type(name, "an integer", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise error_responses.integer_out_of_range(name, value, minimum, maximum)
    text = body.get("text")
    if isinstance(text, dict) and text.get("verbosity") is not None and text["verbosity"] not in _VERBOSITIES:
        raise error_responses.invalid_value("text.verbosity", text["verbosity"], _VERBOSITIES)
    _check_tool_choice(body.get("tool_choice"))


# `tool_choice` forms (spec: ToolChoiceParam): a mode, or an object of one of these types with the fields named.
# The spec's ToolChoiceTypes lacks `web_search` and `web_search_2025_08_26`, which the real API accepts and echoes
# in response objects (OpenAI's tools docs name them; openai-php/client #665 added them for that reason, and
# openai-agents sends `{"type": "web_search"}`): the real behaviour wins over the spec, as with RECORDED_NULLS.
_TOOL_CHOICE_MODES = ["none", "auto", "required"]
_TOOL_CHOICE_FIELDS = {
    "function": ("name",),
    "custom": ("name",),
    "mcp": ("server_label",),
    "allowed_tools": ("mode", "tools"),
    **dict.fromkeys(
        (
            "file_search",
            "web_search",
            "web_search_2025_08_26",
            "web_search_preview",
            "web_search_preview_2025_03_11",
            "computer",
            "computer_use_preview",
            "computer_use",
            "image_generation",
            "code_interpreter",
            "programmatic_tool_calling",
            "apply_patch",
            "shell",
        ),
        (),
    ),
}


def _check_tool_choice(choice: Any) -> None:
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICE_MODES:
            raise error_responses.invalid_value("tool_choice", choice, _TOOL_CHOICE_MODES)
        return
    if not isinstance(choice, dict):
        raise error_responses.invalid_type("tool_choice", "a string or an object", choice)
    kind = choice.get("type")
    if not isinstance(kind, str):  # it keys the table below: a list or an object would be a TypeError there
        raise error_responses.invalid_type("tool_choice.type", "a string", kind)
    if kind not in _TOOL_CHOICE_FIELDS:
        raise error_responses.invalid_value("tool_choice.type", kind, list(_TOOL_CHOICE_FIELDS))
    for field in _TOOL_CHOICE_FIELDS[kind]:
        if choice.get(field) is None:
            raise error_responses.missing_parameter(f"tool_choice.{field}")
        if field != "tools" and not isinstance(choice[field], str):
            raise error_responses.invalid_type(f"tool_choice.{field}", "a string", choice[field])
    if kind == "mcp" and choice.get("name") is not None and not isinstance(choice["name"], str):
        raise error_responses.invalid_type("tool_choice.name", "a string", choice["name"])
    if kind == "allowed_tools":
        if choice["mode"] not in ("auto", "required"):
            raise error_responses.invalid_value("tool_choice.mode", choice["mode"], ["auto", "required"])
        if not isinstance(choice["tools"], list) or not all(isinstance(tool, dict) for tool in choice["tools"]):
            raise error_responses.invalid_type("tool_choice.tools", "an array of objects", choice["tools"])


def _check_reasoning(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise error_responses.invalid_type("reasoning", "an object", value)
    for key, supported in _REASONING_VALUES.items():
        if value.get(key) is not None and value[key] not in supported:
            raise error_responses.invalid_value(f"reasoning.{key}", value[key], supported)
    if value.get("mode") is not None and not isinstance(value["mode"], str):
        raise error_responses.invalid_type("reasoning.mode", "a string", value["mode"])


def _check_max_output_tokens(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise error_responses.invalid_type("max_output_tokens", "an integer", value)
    if value < 16:
        raise error_responses.integer_out_of_range("max_output_tokens", value, minimum=16)
