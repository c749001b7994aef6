"""Hosted tools offered as function tools, for engines that route hosted tools by rules (tool_rules.py).

A Chat Completions client has no hosted tools, so the Chat fallback (assistant/backends/chat_tools.py) offers
them as functions named `web_search(query)`, `file_search(queries)` and `code_interpreter(code)`, runs them
itself, and sends back JSON outputs. A real model calls a function by its name and description; the reference
engine does the same by seeing the request as if those functions were the hosted tools:

- `hosted_view(request)`: the function tools of those names become the hosted tools (a `file_search` function
  counts as file search with files to search), and each call of them with its output becomes the hosted item
  the rules answer from (web pages, file passages, printed output and written files);
- `as_function_call(call, request)`: a rule's hosted call of a tool that was offered as a function is made a
  function call of that name, with the same arguments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .engine import GenerationRequest, ToolCall

FUNCTION_NAMES = ("web_search", "file_search", "code_interpreter")
_ITEM_TYPES = {
    "web_search": "web_search_call",
    "file_search": "file_search_call",
    "code_interpreter": "code_interpreter_call",
}


def _emulated(request: GenerationRequest) -> set[str]:
    return {
        tool["name"]
        for tool in request.options.tools
        if tool.get("type") == "function" and tool.get("name") in FUNCTION_NAMES
    }


def hosted_view(request: GenerationRequest) -> GenerationRequest:
    emulated = _emulated(request)
    if not emulated and not any(
        item.get("type") == "function_call" and item.get("name") in FUNCTION_NAMES for item in request.input_items
    ):
        return request
    tools = [
        tool for tool in request.options.tools if not (tool.get("type") == "function" and tool.get("name") in emulated)
    ]
    for name in sorted(emulated):
        # The client searches its own copies of the files: any store id makes file search count as offered.
        tools.append(
            {"type": "file_search", "vector_store_ids": ["client"]} if name == "file_search" else {"type": name}
        )
    names = {
        item.get("call_id"): item["name"]
        for item in request.input_items
        if item.get("type") == "function_call" and item.get("name") in FUNCTION_NAMES
    }
    items: list[Mapping[str, Any]] = []
    for item in request.input_items:
        if item.get("type") == "function_call" and item.get("call_id") in names:
            continue  # shown by its output, below
        if item.get("type") == "function_call_output" and item.get("call_id") in names:
            items.append(_hosted_item(names[item.get("call_id")], item.get("output")))
            continue
        items.append(item)
    return replace(request, input_items=items, options=replace(request.options, tools=tools))


def as_function_call(call: ToolCall | None, request: GenerationRequest) -> ToolCall | None:
    if call is not None and call.kind in _emulated(request):
        return ToolCall(kind="function", name=call.kind, arguments=call.arguments)
    return call


def _hosted_item(name: str, output: Any) -> dict[str, Any]:
    try:
        data = json.loads(output) if isinstance(output, str) else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    item: dict[str, Any] = {"type": _ITEM_TYPES[name], "status": "failed" if data.get("error") else "completed"}
    if name == "web_search":
        item.update(
            action={"type": "search", "query": data.get("query") or ""},
            results=data.get("results") or [],
            error=data.get("error"),
        )
    elif name == "file_search":
        item["results"] = [
            result
            for result in data.get("results") or []
            if isinstance(result, dict) and {"file_id", "filename", "text"} <= result.keys()
        ]
    else:
        item.update(
            outputs=[{"type": "logs", "logs": data.get("logs") or ""}],
            error=data.get("error"),
            files=data.get("files") or [],
            container_id=None,
        )
    return item
