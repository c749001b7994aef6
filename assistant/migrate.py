"""Chat Completions request <-> Responses request translation: pure functions, no I/O.

`chat_to_responses(body)` turns a `POST /v1/chat/completions` body into the equivalent `POST /v1/responses` body;
`responses_to_chat(body)` goes the other way. Each returns a `Translation`: the new request and one warning per
thing that was changed in meaning or could not be carried, saying what to do instead. Nothing is dropped
silently except parameters set to their no-op default (`n: 1`, `logprobs: false`, penalties of 0, ...).

The mapping is OpenAI's migration guide's (https://platform.openai.com/docs/guides/migrate-to-responses),
checked parameter by parameter against `CreateResponse` and `CreateChatCompletionRequest` in the official OpenAPI
spec (tests/openapi.json):

- a leading system/developer message with text content -> `instructions`; later ones stay input messages;
- user content parts: text -> input_text, image_url -> input_image, file -> input_file;
- assistant `tool_calls` -> `function_call` / `custom_tool_call` items; `tool` messages -> `function_call_output`;
- `max_tokens` / `max_completion_tokens` -> `max_output_tokens`; `response_format` -> `text.format` (flattened);
  `verbosity` -> `text.verbosity`; `reasoning_effort` -> `reasoning.effort`;
- function tools are flattened (externally -> internally tagged) and `tool_choice` with them;
- `logprobs` / `top_logprobs` -> `include: ["message.output_text.logprobs"]` + `top_logprobs`;
- `web_search_options` -> a `web_search` tool;
- `stream_options.include_usage` has no equivalent and needs none: Responses always reports usage in
  `response.completed`.

The same message/item mapping serves the Chat fallback backend (`items_to_messages`) and the local server's
`/v1/chat/completions` (`messages_to_items`), so it exists once.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.nesting import nests_deeper_than

JSON = dict[str, Any]

LOGPROBS_INCLUDE = "message.output_text.logprobs"
MIN_MAX_OUTPUT_TOKENS = 16  # CreateResponse.max_output_tokens minimum
EMPTY_PARAMETERS: JSON = {"type": "object", "properties": {}}  # what an omitted Chat `parameters` means

# Parameters both APIs spell and mean the same way (present in both request schemas).
SHARED_PARAMETERS = (
    "model",
    "stream",
    "temperature",
    "top_p",
    "metadata",
    "store",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "parallel_tool_calls",
    "moderation",
    "top_logprobs",
)

# Chat parameters CreateResponse has no field for: why, and what to do instead.
CHAT_ONLY = {
    "n": "Responses returns one answer per request; make separate requests for more candidates.",
    "logit_bias": "Responses has no token biasing; steer with instructions or a structured output format.",
    "presence_penalty": "Responses takes no presence penalty; discourage repetition in the instructions.",
    "frequency_penalty": "Responses takes no frequency penalty; discourage repetition in the instructions.",
    "seed": "Responses takes no seed; outputs are not reproducible by seed (compare them by content instead).",
    "stop": "Responses has no stop sequences; ask for the boundary in the instructions, use a structured "
    "output format, or cut the text client-side.",
    "audio": "Responses produces no audio; use the Realtime API, or generate text and speak it with the "
    "audio/speech endpoint.",
    "modalities": "Responses produces text only; for audio use the Realtime API or the audio/speech endpoint.",
    "prediction": "Predicted Outputs are Chat Completions only; send the full request without a prediction.",
}
# Chat parameters whose no-op value can be dropped without a word.
CHAT_NO_OP_VALUES: dict[str, Any] = {
    "n": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "modalities": ["text"],
    "logit_bias": {},
}

# Responses parameters Chat Completions has no field for.
RESPONSES_ONLY = {
    "previous_response_id": "Chat Completions keeps no state: send the whole history as messages.",
    "conversation": "Chat Completions keeps no state: send the conversation's items as messages.",
    "background": "Chat Completions has no background mode; run the request in your own worker.",
    "truncation": "Chat Completions never truncates; trim old messages yourself.",
    "max_tool_calls": "Chat Completions has no tool-call budget; limit your own tool loop.",
    "context_management": "Chat Completions has no server-side compaction; trim or summarise old messages.",
    "prompt": "Chat Completions has no stored prompt templates; inline the prompt as messages.",
}


# Levels of objects and arrays a request may nest; real ones stay under 20 (a structured-output JSON schema's).
# Translating copies the body recursively, which a deeper one would take past Python's recursion limit.
MAX_NESTING = 100


class MigrationError(ValueError):
    """The body is not a request of the kind being translated (not an object, no messages, ...)."""


def check_nesting(body: Any) -> None:
    """Raise MigrationError when `body` nests objects and arrays more than MAX_NESTING levels deep."""
    if nests_deeper_than(body, MAX_NESTING):
        raise MigrationError(
            f"the request nests objects and arrays more than {MAX_NESTING} levels deep; no API request does"
        )


@dataclass(frozen=True)
class Translation:
    request: JSON
    warnings: list[str] = field(default_factory=list)


# -- Chat Completions -> Responses -------------------------------------------------------------------------------


def chat_to_responses(body: Mapping[str, Any]) -> Translation:
    """The Responses request equivalent to a Chat Completions request body."""
    if not isinstance(body, Mapping):
        raise MigrationError("a Chat Completions request must be a JSON object")
    check_nesting(body)
    if not isinstance(body.get("messages"), list):
        raise MigrationError("a Chat Completions request needs a 'messages' array")
    body = copy.deepcopy(dict(body))
    warnings: list[str] = []
    request: JSON = {}
    for name in SHARED_PARAMETERS:
        if name in body:
            request[name] = body[name]

    instructions, items, item_warnings = messages_to_items(body["messages"])
    warnings += item_warnings
    if instructions is not None:
        request["instructions"] = instructions
    request["input"] = items

    _max_tokens_forward(body, request, warnings)
    _text_forward(body, request, warnings)
    if body.get("reasoning_effort") is not None:
        request["reasoning"] = {"effort": body["reasoning_effort"]}
    _tools_forward(body, request, warnings)
    _stream_options_forward(body, request, warnings)
    if body.get("logprobs"):
        request["include"] = [LOGPROBS_INCLUDE]
    if body.get("service_tier") is not None:
        request["service_tier"] = body["service_tier"]

    for name, advice in CHAT_ONLY.items():
        if name in body and body[name] is not None and body[name] != CHAT_NO_OP_VALUES.get(name, object()):
            warnings.append(f"'{name}' cannot be carried: {advice}")
    known = {
        *SHARED_PARAMETERS,
        *CHAT_ONLY,
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "response_format",
        "verbosity",
        "reasoning_effort",
        "tools",
        "tool_choice",
        "functions",
        "function_call",
        "web_search_options",
        "stream_options",
        "logprobs",
        "service_tier",
    }
    for name in body:
        if name not in known:
            warnings.append(f"'{name}' is not a Chat Completions parameter this translator knows; not carried.")
    return Translation(request, warnings)


def messages_to_items(messages: Sequence[Any]) -> tuple[str | None, list[JSON], list[str]]:
    """Chat messages -> (instructions, Responses input items, warnings).

    The first message becomes `instructions` when it is a system or developer message with plain-text content;
    anything else keeps its place as an input message, so no text is ever reordered or merged.
    """
    warnings: list[str] = []
    items: list[JSON] = []
    instructions: str | None = None
    legacy_calls: dict[str, str] = {}  # legacy function name -> the call id synthesized for it
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise MigrationError(f"{where} must be an object with a 'role'")
        role = message["role"]
        if message.get("name") is not None:
            warnings.append(
                f"{where}.name cannot be carried: Responses messages have no participant names; "
                "put the name in the message text if the model needs it."
            )
        if role in ("system", "developer"):
            if index == 0 and isinstance(message.get("content"), str):
                instructions = message["content"]
            else:
                items.append({"role": role, "content": _content_forward(message.get("content"), where, warnings)})
        elif role == "user":
            items.append({"role": "user", "content": _content_forward(message.get("content"), where, warnings)})
        elif role == "assistant":
            items += _assistant_forward(message, where, warnings, legacy_calls)
        elif role == "tool":
            output = message.get("content")
            if isinstance(output, list):
                output = _content_forward(output, where, warnings)
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": output if output is not None else "",
                }
            )
        elif role == "function":
            name = message.get("name") or ""
            call_id = legacy_calls.get(name) or f"call_legacy_{index}"
            warnings.append(
                f"{where}: legacy 'function' message became a function_call_output for call {call_id}; "
                "use tool messages with tool_call_id."
            )
            items.append({"type": "function_call_output", "call_id": call_id, "output": message.get("content") or ""})
        else:
            raise MigrationError(f"{where}.role '{role}' is not a Chat Completions role")
    return instructions, items, warnings


def _content_forward(content: Any, where: str, warnings: list[str]) -> str | list[JSON]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise MigrationError(f"{where}.content must be a string or an array of content parts")
    parts: list[JSON] = []
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            parts.append({"type": "input_text", "text": part.get("text", "")})
        elif kind == "image_url":
            image = part.get("image_url") or {}
            # `detail` is required by CreateResponse; "auto" is Chat's default.
            parts.append(
                {"type": "input_image", "image_url": image.get("url"), "detail": image.get("detail") or "auto"}
            )
        elif kind == "file":
            parts.append({"type": "input_file", **{k: v for k, v in (part.get("file") or {}).items() if v is not None}})
        elif kind == "input_audio":
            warnings.append(
                f"{where}.content[{number}] (input_audio) cannot be carried: Responses takes no audio "
                "input; transcribe it (audio/transcriptions) and send the text."
            )
            continue
        elif kind == "refusal":
            parts.append({"type": "input_text", "text": part.get("refusal", "")})
        else:
            warnings.append(f"{where}.content[{number}] of type {kind!r} cannot be carried; not translated.")
            continue
        _carry_breakpoint(part, parts[-1])
    return parts


def _carry_breakpoint(source: Mapping[str, Any], target: JSON) -> None:
    # Explicit prompt-cache breakpoints have the same shape on every content part of both APIs.
    if source.get("prompt_cache_breakpoint") is not None:
        target["prompt_cache_breakpoint"] = source["prompt_cache_breakpoint"]


def _assistant_forward(
    message: Mapping[str, Any], where: str, warnings: list[str], legacy_calls: dict[str, str]
) -> list[JSON]:
    items: list[JSON] = []
    text = _assistant_text(message.get("content"))
    if message.get("refusal"):
        if not isinstance(message["refusal"], str):
            raise MigrationError(f"{where}.refusal must be a string")
        warnings.append(
            f"{where}.refusal was carried as the assistant's text (Responses input has no refusal "
            "field on easy messages)."
        )
        text = (text or "") + message["refusal"]
    if text or not (message.get("tool_calls") or message.get("function_call")):
        # Assistant history is plain text: easy input messages only take input_* parts, which the API refuses for
        # the assistant role. A message with no text and no calls is kept too: it is still a turn.
        items.append({"role": "assistant", "content": text or ""})
    if message.get("audio"):
        warnings.append(
            f"{where}.audio cannot be carried: Responses has no audio output to refer back to; "
            "put the transcript in the assistant's text."
        )
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list) or not all(isinstance(call, dict) for call in calls):
        raise MigrationError(f"{where}.tool_calls must be an array of objects")
    for index, call in enumerate(calls):
        if not isinstance(call.get("custom" if call.get("type") == "custom" else "function") or {}, dict):
            raise MigrationError(f"{where}.tool_calls[{index}].{call.get('type') or 'function'} must be an object")
        if call.get("type") == "custom":
            custom = call.get("custom") or {}
            items.append(
                {
                    "type": "custom_tool_call",
                    "call_id": call.get("id"),
                    "name": custom.get("name"),
                    "input": custom.get("input", ""),
                }
            )
        else:
            function = call.get("function") or {}
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments", ""),
                }
            )
    legacy = message.get("function_call")
    if legacy and not isinstance(legacy, dict):
        raise MigrationError(f"{where}.function_call must be an object with a 'name' and 'arguments'")
    if legacy:
        call_id = f"call_legacy_{where.removeprefix('messages[').rstrip(']')}"
        legacy_calls[legacy.get("name", "")] = call_id
        warnings.append(
            f"{where}.function_call (legacy) became a function_call item with call id {call_id}; use tool_calls."
        )
        items.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": legacy.get("name"),
                "arguments": legacy.get("arguments", ""),
            }
        )
    return items


def _assistant_text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise MigrationError("an assistant message's content must be a string or an array of content parts")
    texts = [part.get("text") or part.get("refusal") or "" for part in content if isinstance(part, Mapping)]
    if not all(isinstance(text, str) for text in texts):  # a number where the text goes is the caller's mistake
        raise MigrationError("an assistant message's content parts must carry their text as strings")
    return "".join(texts)


def _max_tokens_forward(body: Mapping[str, Any], request: JSON, warnings: list[str]) -> None:
    limit = body.get("max_completion_tokens")
    if body.get("max_tokens") is not None:
        if limit is not None and limit != body["max_tokens"]:
            warnings.append("both 'max_tokens' and 'max_completion_tokens' were set; max_completion_tokens was used.")
        limit = limit if limit is not None else body["max_tokens"]
    if limit is None:
        return
    if limit < MIN_MAX_OUTPUT_TOKENS:
        warnings.append(
            f"max_output_tokens must be at least {MIN_MAX_OUTPUT_TOKENS} on Responses; {limit} was "
            f"raised to {MIN_MAX_OUTPUT_TOKENS}."
        )
        limit = MIN_MAX_OUTPUT_TOKENS
    request["max_output_tokens"] = limit


def _text_forward(body: Mapping[str, Any], request: JSON, warnings: list[str]) -> None:
    text: JSON = {}
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping):
        if response_format.get("type") == "json_schema":
            # Flattened: Chat nests name/schema/strict under `json_schema`, Responses does not.
            text["format"] = {"type": "json_schema", **(response_format.get("json_schema") or {})}
        else:
            text["format"] = dict(response_format)
    if body.get("verbosity") is not None:
        text["verbosity"] = body["verbosity"]
    if text:
        request["text"] = text


def _tools_forward(body: Mapping[str, Any], request: JSON, warnings: list[str]) -> None:
    tools: list[JSON] = []
    non_strict: list[str] = []
    definitions = list(body.get("tools") or [])
    if body.get("functions"):
        warnings.append("'functions' (legacy) became function tools; use 'tools'.")
        definitions += [{"type": "function", "function": function} for function in body["functions"]]
    for tool in definitions:
        if tool.get("type") == "custom":
            tools.append({"type": "custom", **(tool.get("custom") or {})})
            continue
        function = dict(tool.get("function") or {})
        if function.get("strict") is None:
            non_strict.append(function.get("name", "?"))
        tools.append(
            {
                "type": "function",
                "name": function.get("name"),
                **({"description": function["description"]} if "description" in function else {}),
                "parameters": function.get("parameters")
                if function.get("parameters") is not None
                else EMPTY_PARAMETERS,
                "strict": bool(function.get("strict")),
            }
        )
    if non_strict:
        warnings.append(
            f"function tools {', '.join(non_strict)}: Chat functions are non-strict by default, so "
            "strict: false was set explicitly (omitted, Responses would try strict mode); set strict: "
            "true once the schemas allow it."
        )
    search = body.get("web_search_options")
    if search is not None:
        tools.append(_web_search_tool(search))
        warnings.append(
            "web_search_options became a web_search tool: the model now decides when to search "
            "(force it with tool_choice), and any model that supports the tool can use it."
        )
    if tools:
        request["tools"] = tools
    choice = body.get("tool_choice")
    if choice is None and body.get("function_call") is not None:
        warnings.append("'function_call' (legacy) became tool_choice; use 'tool_choice'.")
        legacy = body["function_call"]
        choice = legacy if isinstance(legacy, str) else {"type": "function", "function": legacy}
    if choice is not None:
        request["tool_choice"] = _tool_choice_forward(choice)


def _web_search_tool(options: Mapping[str, Any]) -> JSON:
    tool: JSON = {"type": "web_search"}
    if options.get("search_context_size"):
        tool["search_context_size"] = options["search_context_size"]
    location = options.get("user_location")
    if location:
        tool["user_location"] = {"type": "approximate", **(location.get("approximate") or {})}
    return tool


def _tool_choice_forward(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    kind = choice.get("type")
    if kind == "function":
        return {"type": "function", "name": (choice.get("function") or {}).get("name")}
    if kind == "custom":
        return {"type": "custom", "name": (choice.get("custom") or {}).get("name")}
    if kind == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        return {
            "type": "allowed_tools",
            "mode": allowed.get("mode"),
            "tools": [_tool_choice_forward(tool) for tool in allowed.get("tools") or []],
        }
    return choice


def _stream_options_forward(body: Mapping[str, Any], request: JSON, warnings: list[str]) -> None:
    options = body.get("stream_options")
    if not isinstance(options, Mapping):
        return
    if "include_usage" in options:
        warnings.append(
            "stream_options.include_usage has no Responses equivalent and needs none: usage always "
            "arrives in the response.completed event."
        )
    if "include_obfuscation" in options:
        request["stream_options"] = {"include_obfuscation": options["include_obfuscation"]}


# -- Responses -> Chat Completions -------------------------------------------------------------------------------


def responses_to_chat(body: Mapping[str, Any]) -> Translation:
    """The Chat Completions request equivalent to a Responses request body."""
    if not isinstance(body, Mapping):
        raise MigrationError("a Responses request must be a JSON object")
    check_nesting(body)
    body = copy.deepcopy(dict(body))
    warnings: list[str] = []
    request: JSON = {}
    for name in SHARED_PARAMETERS:
        if name in body:
            request[name] = body[name]

    messages: list[JSON] = []
    if body.get("instructions"):
        # "system", not "developer": every Chat model and compatible server (llama.cpp, vLLM) knows it.
        messages.append({"role": "system", "content": body["instructions"]})
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        messages.append({"role": "user", "content": raw_input})
    elif isinstance(raw_input, list):
        converted, item_warnings = items_to_messages(raw_input)
        messages += converted
        warnings += item_warnings
    elif raw_input is not None:
        raise MigrationError("'input' must be a string or an array of items")
    request["messages"] = messages

    if body.get("max_output_tokens") is not None:
        request["max_completion_tokens"] = body["max_output_tokens"]
    text = body.get("text") or {}
    fmt = text.get("format")
    if isinstance(fmt, Mapping):
        if fmt.get("type") == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {k: v for k, v in fmt.items() if k != "type"},
            }
        else:
            request["response_format"] = dict(fmt)
    if text.get("verbosity") is not None:
        request["verbosity"] = text["verbosity"]
    reasoning = body.get("reasoning") or {}
    if reasoning.get("effort") is not None:
        request["reasoning_effort"] = reasoning["effort"]
    if any(reasoning.get(key) for key in ("summary", "generate_summary", "context", "mode")):
        warnings.append(
            "reasoning summaries/options other than effort cannot be carried: Chat Completions "
            "returns no reasoning summary."
        )
    _tools_reverse(body, request, warnings)
    _include_reverse(body, request, warnings)

    stream_options: JSON = {}
    if body.get("stream"):
        # Responses always reports usage; on Chat a stream carries it only when asked.
        stream_options["include_usage"] = True
    if isinstance(body.get("stream_options"), Mapping) and "include_obfuscation" in body["stream_options"]:
        stream_options["include_obfuscation"] = body["stream_options"]["include_obfuscation"]
    if stream_options:
        request["stream_options"] = stream_options
    tier = body.get("service_tier")
    if tier is not None:
        if tier == "ultrafast":
            warnings.append("service_tier 'ultrafast' does not exist on Chat Completions; 'priority' is the closest.")
        else:
            request["service_tier"] = tier

    for name, advice in RESPONSES_ONLY.items():
        if body.get(name) not in (None, False, "disabled"):
            warnings.append(f"'{name}' cannot be carried: {advice}")
    known = {
        *SHARED_PARAMETERS,
        *RESPONSES_ONLY,
        "instructions",
        "input",
        "max_output_tokens",
        "text",
        "reasoning",
        "tools",
        "tool_choice",
        "include",
        "stream_options",
        "service_tier",
    }
    for name in body:
        if name not in known:
            warnings.append(f"'{name}' is not a Responses parameter this translator knows; not carried.")
    return Translation(request, warnings)


def items_to_messages(items: Sequence[Any]) -> tuple[list[JSON], list[str]]:
    """Responses input (or recorded output) items -> Chat messages, and warnings.

    Consecutive function calls join the assistant message before them (Chat puts a turn's tool calls on one
    assistant message). Reasoning items have no Chat form and are skipped.
    """
    messages: list[JSON] = []
    warnings: list[str] = []
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if not isinstance(item, Mapping):
            raise MigrationError(f"{where} must be an object")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role == "assistant":
                text = _output_text(item.get("content"))
                messages.append({"role": "assistant", "content": text})
            elif role in ("user", "system", "developer"):
                messages.append({"role": role, "content": _content_reverse(item.get("content"), where, warnings)})
            else:
                raise MigrationError(f"{where}.role {role!r} is not a message role")
        elif kind in ("function_call", "custom_tool_call"):
            if kind == "function_call":
                call = {
                    "id": item.get("call_id"),
                    "type": "function",
                    "function": {"name": item.get("name"), "arguments": item.get("arguments", "")},
                }
            else:
                call = {
                    "id": item.get("call_id"),
                    "type": "custom",
                    "custom": {"name": item.get("name"), "input": item.get("input", "")},
                }
            last = messages[-1] if messages else None
            if last is None or last.get("role") != "assistant":
                last = {"role": "assistant", "content": None}
                messages.append(last)
            last.setdefault("tool_calls", []).append(call)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            if isinstance(output, list):
                output = _content_reverse(output, where, warnings)
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": output})
        elif kind == "reasoning":
            continue  # the model's private reasoning: Chat has no way to send it back
        else:
            warnings.append(
                f"{where} of type {kind!r} cannot be carried to Chat Completions (no equivalent "
                "message); run that tool yourself as a function tool."
            )
    return messages, warnings


def _output_text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    return "".join(
        part.get("text") or part.get("refusal") or ""
        for part in content
        if isinstance(part, Mapping) and part.get("type") in ("output_text", "input_text", "refusal", "text")
    )


def _content_reverse(content: Any, where: str, warnings: list[str]) -> str | list[JSON]:
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[JSON] = []
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image" and part.get("image_url"):
            image: JSON = {"url": part["image_url"]}
            if part.get("detail") and part["detail"] != "original":
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file" and not part.get("file_url"):
            parts.append(
                {
                    "type": "file",
                    "file": {k: part[k] for k in ("file_id", "file_data", "filename") if part.get(k) is not None},
                }
            )
        else:
            warnings.append(
                f"{where}.content[{number}] ({kind}) cannot be carried: Chat Completions takes images "
                "by URL and files by id or data only; upload it or inline it."
            )
            continue
        _carry_breakpoint(part, parts[-1])
    return parts


def _tools_reverse(body: Mapping[str, Any], request: JSON, warnings: list[str]) -> None:
    tools: list[JSON] = []
    for tool in body.get("tools") or []:
        kind = tool.get("type")
        if kind == "function":
            function: JSON = {"name": tool.get("name")}
            for key in ("description", "parameters", "strict"):
                if tool.get(key) is not None:
                    function[key] = tool[key]
            tools.append({"type": "function", "function": function})
        elif kind == "custom":
            tools.append({"type": "custom", "custom": {k: v for k, v in tool.items() if k != "type"}})
        elif kind in ("web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"):
            options: JSON = {}
            if tool.get("search_context_size"):
                options["search_context_size"] = tool["search_context_size"]
            if tool.get("user_location"):
                location = {k: v for k, v in tool["user_location"].items() if k != "type" and v is not None}
                options["user_location"] = {"type": "approximate", "approximate": location}
            if tool.get("filters"):
                warnings.append("web_search filters (allowed domains) cannot be carried to web_search_options.")
            request["web_search_options"] = options
            warnings.append(
                "the web_search tool became web_search_options: on Chat Completions it needs a search "
                "model (e.g. gpt-4o-search-preview), which searches on every request."
            )
        else:
            warnings.append(
                f"the hosted tool {kind!r} has no Chat Completions equivalent; run it yourself as a "
                "function tool (the Chat fallback backend does this)."
            )
    if tools:
        request["tools"] = tools
    choice = body.get("tool_choice")
    if choice is not None:
        request["tool_choice"] = _tool_choice_reverse(choice, warnings)


def _tool_choice_reverse(choice: Any, warnings: list[str]) -> Any:
    if isinstance(choice, str):
        return choice
    kind = choice.get("type")
    if kind == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    if kind == "custom":
        return {"type": "custom", "custom": {"name": choice.get("name")}}
    if kind == "allowed_tools":
        tools = [_tool_choice_reverse(tool, warnings) for tool in choice.get("tools") or []]
        return {"type": "allowed_tools", "allowed_tools": {"mode": choice.get("mode"), "tools": tools}}
    warnings.append(
        f"tool_choice {json.dumps(choice)} names a hosted tool; Chat Completions cannot force it, so "
        "'required' was used."
    )
    return "required"


def _include_reverse(body: Mapping[str, Any], request: JSON, warnings: list[str]) -> None:
    for value in body.get("include") or []:
        if value == LOGPROBS_INCLUDE:
            request["logprobs"] = True
        else:
            warnings.append(f"include {value!r} cannot be carried: Chat Completions has no such output.")
