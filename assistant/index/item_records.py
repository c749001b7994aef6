"""What the index reads out of a turn's output items into their own tables: tool calls and citations.

The items keep their full JSON anyway; these rows are what people search and list (which sources did it read,
what code did it run, which file is cited where) without parsing every payload.
"""

from __future__ import annotations

import json
from typing import Any

TOOL_CALL_TYPES = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "function_call",
        "mcp_call",
        "image_generation_call",
        "local_shell_call",
        "shell_call",
        "custom_tool_call",
        "tool_search_call",
    }
)


def tool_call_rows(
    turn_id: int, items: list[dict[str, Any]], function_results: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One row per tool call item. `function_results` (by call id) are what the library's own functions
    returned for the turn's function calls: output, error, duration_ms."""
    function_results = function_results or {}
    rows = []
    for item in items:
        kind = item.get("type")
        if kind not in TOOL_CALL_TYPES:
            continue
        queries: list[str] = []
        results: Any = None
        logs = None
        if kind == "web_search_call":
            action = item.get("action") or {}
            queries = [query for query in [action.get("query"), *(action.get("queries") or [])] if query]
            if action.get("type") == "open_page" and action.get("url"):
                queries.append(action["url"])
            results = action.get("sources")
        elif kind == "file_search_call":
            queries = list(item.get("queries") or [])
            results = item.get("results")
        elif kind == "code_interpreter_call":
            results = item.get("outputs")
            logs = "\n".join(output.get("logs", "") for output in results or [] if output.get("type") == "logs") or None
        elif kind == "function_call":
            results = {"name": item.get("name"), "arguments": item.get("arguments")}
        rows.append(
            {
                "turn_id": turn_id,
                "item_id": item.get("id"),
                "type": kind,
                "status": item.get("status"),
                "queries": json.dumps(queries) if queries else None,
                "code": item.get("code"),
                "logs": logs,
                "container_id": item.get("container_id"),
                "results": json.dumps(results, ensure_ascii=False) if results is not None else None,
                "call_id": item.get("call_id"),
                **_function_result(function_results.get(item.get("call_id") or "")),
            }
        )
    return rows


def _function_result(result: dict[str, Any] | None) -> dict[str, Any]:
    result = result or {}
    return {"output": result.get("output"), "error": result.get("error"), "duration_ms": result.get("duration_ms")}


def citation_rows(turn_id: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        if item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            for annotation in part.get("annotations") or []:
                rows.append(
                    {
                        "turn_id": turn_id,
                        "item_id": item.get("id"),
                        "type": annotation.get("type") or "unknown",
                        "url": annotation.get("url"),
                        "title": annotation.get("title"),
                        "file_id": annotation.get("file_id"),
                        "filename": annotation.get("filename"),
                        "container_id": annotation.get("container_id"),
                        "start_index": annotation.get("start_index"),
                        "end_index": annotation.get("end_index"),
                        "text_index": annotation.get("index"),
                    }
                )
    return rows
