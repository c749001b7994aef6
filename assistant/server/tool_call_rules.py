"""The real API's rules on tool calls that a request's shape alone does not show, on both routes.

A request can be well formed field by field and still be refused by api.openai.com, because a function call and
its output must pair up across the whole prompt, and `tool_choice` must name a tool the request offers. The local
server refuses the same requests (unless it runs lenient: `assistant serve --lenient`), so a client bug that
would fail in production fails here first. The messages, `param` and `code` are the real API's, as quoted in
public issue threads (docs/local-server.md lists the rules and the sources).

Responses (`check_response`), over the prompt the model would see (a conversation's items or the
previous_response chain, then the new input):
- a `function_call_output` whose call_id matches no `function_call` ("No tool call found for ...");
- a `function_call` with no output, followed by a user message or left unanswered by an earlier response or the
  conversation while the new input does not answer it ("No tool output found for ..."). A call at the end of
  the request's own input may stay unanswered;
- `tool_choice` naming a function that `tools` lacks, or "required" with no tools.

Chat Completions (`check_chat`): `tool_choice` without `tools`; a `tool` message that does not follow an
assistant message with `tool_calls`; an assistant message with `tool_calls` not followed by a tool message for
each of its calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .error_responses import ApiError
from .items import Item


def check_response(history: Sequence[Item], input_items: Sequence[Item], body: dict[str, Any]) -> None:
    """Raise the real API's 400 if the prompt (`history` + `input_items`) or `tool_choice` breaks a rule."""
    _check_response_tool_choice(body)
    prompt = [*history, *input_items]
    if any(item.get("type") == "item_reference" for item in prompt):
        # The server keeps references as sent (it does not resolve them), so one may name the call or the
        # output this check would miss: refusing then could refuse what the real API accepts.
        return
    calls = {item["call_id"] for item in prompt if item.get("type") == "function_call"}
    answered = {item["call_id"] for item in prompt if item.get("type") == "function_call_output"}
    for item in prompt:
        if item.get("type") == "function_call_output" and item["call_id"] not in calls:
            raise ApiError(
                400, f"No tool call found for function call output with call_id {item['call_id']}.", param="input"
            )
    for position, item in enumerate(prompt):
        if item.get("type") != "function_call" or item["call_id"] in answered:
            continue
        from_history = position < len(history)
        followed_by_user = any(_is_user_message(later) for later in prompt[position + 1 :])
        if from_history or followed_by_user:
            raise ApiError(400, f"No tool output found for function call {item['call_id']}.", param="input")


def check_chat(messages: Sequence[Any], body: dict[str, Any]) -> None:
    """Raise the real API's 400 if the messages or `tool_choice` break a rule."""
    if body.get("tool_choice") is not None and not body.get("tools"):
        raise ApiError(
            400,
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    answering = False  # inside the run of tool messages that follows an assistant message with tool_calls
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            answering = False
            continue
        role = message.get("role")
        if role == "tool" and not answering:
            raise ApiError(
                400,
                # sic: the real API's spelling
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                "'tool_calls'.",
                param=f"messages.[{index}].role",
            )
        if role == "assistant" and message.get("tool_calls"):
            _check_tool_calls_answered(messages, index)
            answering = True
        elif role != "tool":
            answering = False


def _check_tool_calls_answered(messages: Sequence[Any], index: int) -> None:
    calls = messages[index].get("tool_calls")
    ids = [call.get("id") for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []
    answered = set()
    for later in messages[index + 1 :]:
        if not isinstance(later, dict) or later.get("role") != "tool":
            break
        answered.add(later.get("tool_call_id"))
    missing = [str(call_id) for call_id in ids if call_id not in answered]
    if missing:
        raise ApiError(
            400,
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(missing)}",
            param=f"messages.[{index}].role",
        )


def _check_response_tool_choice(body: dict[str, Any]) -> None:
    if body.get("prompt") is not None:
        return  # a stored prompt may bring its own tools, which the server cannot see
    choice = body.get("tool_choice")
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    if choice == "required" and not tools:
        raise ApiError(400, "Tool choice 'required' must be specified with 'tools' parameter.", param="tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        names = {tool.get("name") for tool in tools if tool.get("type") == "function"}
        if choice.get("name") not in names:
            raise ApiError(400, "Tool choice 'function' not found in 'tools' parameter.", param="tool_choice")


def _is_user_message(item: Item) -> bool:
    return item.get("type") == "message" and item.get("role") == "user"
