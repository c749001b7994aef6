"""`POST /v1/chat/completions`: the Chat Completions API on the same engines as `/v1/responses`.

Chat messages are translated into the canonical input items the engines take (through `assistant.migrate`, the
same mapping `assistant migrate` prints), so an engine sees the same prompt whichever API asked, and the
reference engine gives the same answers on both ("what did I say first?" is answered from the messages).

Wire format, as recorded from the real API (tests/recordings/: pydantic-ai / llm / logfire chat streams):
- JSON: `{id: "chatcmpl-…", object: "chat.completion", created, model, choices: [{index, message{role, content,
  refusal, annotations[, tool_calls]}, logprobs, finish_reason}], usage, service_tier, system_fingerprint}`;
- SSE: `data: {chunk}` lines only (no `event:` lines), ending with `data: [DONE]`. The first chunk carries
  `delta{role, content: "", refusal: null}` (content null and the first tool call when the answer starts with
  one), then content (or tool-call argument) chunks, then `delta{}` with the finish_reason. With
  `stream_options.include_usage` every chunk has `"usage": null` and one last chunk has `choices: []` and the
  usage; without it chunks have no `usage` key at all. Every chunk carries `obfuscation` unless
  `stream_options.include_obfuscation` is false.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from assistant.migrate import MigrationError, chat_to_responses

from . import error_responses
from .engines.engine import (
    Finish,
    GenerationOptions,
    GenerationRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from .engines.registry import EngineRegistry, ServedModel
from .error_responses import ApiError
from .ids import new_id
from .items import normalize_input
from .request_parsing import json_object
from .sse import SSE_MEDIA_TYPE
from .structured_output import UnsatisfiableFormat, json_output, within_limit
from .tool_call_rules import check_chat

logger = logging.getLogger(__name__)

_ALPHANUMERIC = string.ascii_letters + string.digits
_WORDS = re.compile(r"\S+\s*")
_FINISH_REASONS = {"stop": "stop", "max_output_tokens": "length", "tool_calls": "tool_calls"}
_FORMATS = ["text", "json_object", "json_schema"]


@dataclass(frozen=True)
class PreparedChat:
    id: str
    created: int
    model: str
    served: ServedModel
    generation: GenerationRequest
    max_tokens: int | None
    response_format: dict[str, Any] | None  # json_object / json_schema; None for text
    stream: bool
    include_usage: bool
    obfuscate: bool


@dataclass(frozen=True)
class Completion:
    """What one generation produced, in Chat terms."""

    text: str
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    usage: Usage


class ChatCompletions:
    """The route handler. Engine work blocks, so it runs on worker threads."""

    def __init__(self, engines: EngineRegistry, *, strict: bool = True) -> None:
        """`strict`: refuse what the real API refuses beyond a request's shape (tool_call_rules.py)."""
        self.engines = engines
        self.strict = strict

    async def create(self, request: Request) -> Response:
        prepared = prepare(await json_object(request), self.engines, strict=self.strict)
        if not prepared.stream:
            return JSONResponse(await run_in_threadpool(completion_body, prepared))
        steps: Iterator[Step] = generate(prepared)
        if prepared.response_format is not None:
            # JSON is shaped from the whole answer anyway: do it before the 200, so a schema the answer cannot
            # satisfy is an ordinary 400 rather than an error in the middle of a stream.
            try:
                steps = iter(await run_in_threadpool(list, steps))
            except UnsatisfiableFormat as error:
                raise _format_error(error) from None
        return StreamingResponse(
            _pulled(stream_lines(prepared, steps)), media_type=SSE_MEDIA_TYPE, headers={"cache-control": "no-cache"}
        )


# -- request ------------------------------------------------------------------------------------------------------


def prepare(body: dict[str, Any], engines: EngineRegistry, *, strict: bool = True) -> PreparedChat:
    model = body.get("model")
    if model is None:
        raise error_responses.missing_parameter("model")
    if not isinstance(model, str):
        raise error_responses.invalid_type("model", "a string", model)
    messages = body.get("messages")
    if messages is None:
        raise error_responses.missing_parameter("messages")
    if not isinstance(messages, list):
        raise error_responses.invalid_type("messages", "an array", messages)
    if not messages:
        raise ApiError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for flag in ("stream", "logprobs", "parallel_tool_calls", "store"):
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            raise error_responses.invalid_type(flag, "a boolean", body[flag])
    stream = bool(body.get("stream"))
    stream_options = body.get("stream_options")
    if stream_options is not None and not stream:
        # The real API's wording.
        raise ApiError(
            400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
        )
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool)):
        raise error_responses.invalid_type("n", "an integer", n)
    if n is not None and n != 1:
        raise ApiError(
            400,
            f"Invalid 'n': the local server generates one choice per request, so n must be 1 "
            f"(got {n}). Make {n} requests instead.",
            param="n",
            code="unsupported_value",
        )
    if body.get("web_search_options") is not None:
        # Recorded answer for a model without built-in search (pydantic-ai test_openai_web_search_tool_model_…).
        raise ApiError(400, "Web search options not supported with this model.", param="web_search_options")
    max_tokens = _max_tokens(body)
    response_format = _response_format(body.get("response_format"), messages)

    served = engines.resolve(model)
    if served is None:
        # Recorded (otel-contrib test_chat_completion_404): 404 on chat, unlike 400 on /v1/responses.
        raise ApiError(
            404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
        )

    try:
        translated = chat_to_responses(body).request
        input_items = normalize_input(translated["input"], param="messages")
    except MigrationError as error:
        raise ApiError(400, f"Invalid 'messages': {error}.", param="messages") from None
    if strict:
        check_chat(messages, body)
    # Hosted tools never reach the engine on this route: Chat Completions has none (web search was refused above).
    tools = [tool for tool in translated.get("tools") or [] if tool.get("type") in ("function", "custom")]
    generation = GenerationRequest(
        model=model,
        instructions=translated.get("instructions"),
        input_items=input_items,
        options=GenerationOptions(
            # JSON output is built from the whole answer, then cut to the limit as JSON text (see generate).
            max_output_tokens=None if response_format else max_tokens,
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            reasoning_effort=body.get("reasoning_effort"),
            tools=tools,
            tool_choice=translated.get("tool_choice") or ("auto" if tools else "none"),
            prompt_cache_key=body.get("prompt_cache_key"),
        ),
    )
    options = stream_options if isinstance(stream_options, dict) else {}
    return PreparedChat(
        id="chatcmpl-" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(29)),
        created=int(time.time()),
        model=served.answered_by,  # the model that answers, not the id it was asked as
        served=served,
        generation=generation,
        max_tokens=max_tokens,
        response_format=response_format,
        stream=stream,
        include_usage=bool(options.get("include_usage")),
        obfuscate=options.get("include_obfuscation", True) is not False,
    )


def _max_tokens(body: dict[str, Any]) -> int | None:
    limit = None
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise error_responses.invalid_type(name, "an integer", value)
        if value < 1:
            raise error_responses.integer_out_of_range(name, value, minimum=1)
        limit = value  # max_completion_tokens (checked last) wins, as on the real API
    return limit


def _response_format(value: Any, messages: list[Any]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise error_responses.invalid_type("response_format", "an object", value)
    kind = value.get("type")
    if kind not in _FORMATS:
        raise error_responses.invalid_value("response_format.type", kind, _FORMATS)
    if kind == "text":
        return None
    if kind == "json_schema" and not isinstance(value.get("json_schema"), dict):
        raise error_responses.missing_parameter("response_format.json_schema")
    if kind == "json_object" and "json" not in json.dumps(messages).lower():
        # The real API's rule and wording: JSON mode needs the prompt to ask for JSON.
        raise ApiError(
            400,
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            param="messages",
        )
    return value


# -- generation ---------------------------------------------------------------------------------------------------


Step = TextDelta | ToolCall | Completion


def generate(prepared: PreparedChat) -> Iterator[Step]:
    """The engine's steps as Chat sees them, ending with one `Completion`.

    Text is streamed as the engine produces it; in JSON mode the whole answer is shaped into JSON first (a
    document cannot be validated before it is complete) and then streamed word by word under the token limit.
    """
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    finish: Finish | None = None
    for step in prepared.served.engine.generate(prepared.generation):
        if isinstance(step, TextDelta):
            text.append(step.text)
            if prepared.response_format is None:
                yield step
        elif isinstance(step, ToolCall):
            if step.kind != "function":
                raise RuntimeError(f"the engine called the hosted tool {step.kind}, which chat cannot run")
            call = {
                "id": new_id("call"),
                "type": "function",
                "function": {"name": step.name, "arguments": step.arguments},
            }
            calls.append(call)
            yield step
        elif isinstance(step, Finish):
            finish = step
    if finish is None:
        raise RuntimeError("engine ended without a Finish step")
    reason = "tool_calls" if calls else _FINISH_REASONS[finish.reason]
    usage = finish.usage
    answer = "".join(text)
    if prepared.response_format is not None and not calls:
        shaped, produced, cut = within_limit(json_output(answer, prepared.response_format), prepared.max_tokens)
        for word in _WORDS.findall(shaped):
            yield TextDelta(word)
        answer = shaped
        reason = "length" if cut else "stop"
        usage = Usage(usage.input_tokens, produced, usage.cached_tokens, usage.reasoning_tokens)
    yield Completion(text=answer, tool_calls=calls, finish_reason=reason, usage=usage)


def completion_body(prepared: PreparedChat) -> dict[str, Any]:
    try:
        result = [step for step in generate(prepared) if isinstance(step, Completion)][-1]
    except UnsatisfiableFormat as error:
        raise _format_error(error) from None
    message: dict[str, Any] = {
        "role": "assistant",
        "content": result.text if result.text or not result.tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    return {
        "id": prepared.id,
        "object": "chat.completion",
        "created": prepared.created,
        "model": prepared.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason}],
        "usage": usage_body(result.usage),
        "service_tier": "default",
        "system_fingerprint": _fingerprint(prepared.model),
    }


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _format_error(error: UnsatisfiableFormat) -> ApiError:
    return ApiError(400, f"Invalid 'response_format': {error}.", param="response_format")


def _fingerprint(model: str) -> str:
    # Stable per model, shaped like the real `fp_` + 10 hex characters.
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]


# -- streaming ----------------------------------------------------------------------------------------------------


def stream_chunks(prepared: PreparedChat, steps: Iterator[Step]) -> Iterator[dict[str, Any]]:
    """The chunk objects of a streamed completion, in the recorded order."""

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": prepared.id,
            "object": "chat.completion.chunk",
            "created": prepared.created,
            "model": prepared.model,
            "service_tier": "default",
            "system_fingerprint": _fingerprint(prepared.model),
            "choices": choices,
        }
        if prepared.include_usage:
            body["usage"] = usage
        if prepared.obfuscate:
            # The real API pads chunks with random characters so packet sizes don't reveal token lengths.
            body["obfuscation"] = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(secrets.randbelow(12) + 2))
        return body

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    opened = False
    for step in steps:
        if isinstance(step, TextDelta):
            if not opened:
                yield chunk(choice({"role": "assistant", "content": "", "refusal": None}))
                opened = True
            yield chunk(choice({"content": step.text}))
        elif isinstance(step, ToolCall):
            continue  # announced with its id once the Completion names it (below)
        else:
            for index, call in enumerate(step.tool_calls):
                opening = {
                    "index": index,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
                if not opened:
                    yield chunk(
                        choice({"role": "assistant", "content": None, "tool_calls": [opening], "refusal": None})
                    )
                    opened = True
                else:
                    yield chunk(choice({"tool_calls": [opening]}))
                yield chunk(
                    choice({"tool_calls": [{"index": index, "function": {"arguments": call["function"]["arguments"]}}]})
                )
            if not opened:
                yield chunk(choice({"role": "assistant", "content": "", "refusal": None}))
            yield chunk(choice({}, step.finish_reason))
            if prepared.include_usage:
                yield chunk([], usage_body(step.usage))


def stream_lines(prepared: PreparedChat, steps: Iterator[Step]) -> Generator[bytes, None, None]:
    """SSE bytes: `data: {chunk}` per chunk, then `data: [DONE]`. A failure after the stream began is sent as an
    error object (the SDK raises it as an APIError) and the stream ends without [DONE]."""
    try:
        for chunk in stream_chunks(prepared, steps):
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
    except Exception:
        logger.exception("engine failed while streaming %s", prepared.id)
        yield _error_line(
            ApiError(
                500, "The server had an error while processing your request. Sorry about that!", type="server_error"
            )
        )
        return
    yield b"data: [DONE]\n\n"


def _error_line(error: ApiError) -> bytes:
    return f"data: {json.dumps(error.body(), separators=(',', ':'))}\n\n".encode()


async def _pulled(lines: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Pull a blocking generator on worker threads, and close it the moment the response ends (the client may
    leave mid-stream)."""
    try:
        while True:
            line = await run_in_threadpool(next, lines, None)
            if line is None:
                return
            yield line
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(lines.close)
