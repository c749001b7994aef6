"""A tool call as a collapsible card: its title sums up the call, its body holds the details.

Cards are built from the wire JSON of the output item (`item.added`, then `item.done` with the full item) and
moved on by `tool_call.progress` events (status changes, streamed code or arguments), so one card shows a call
live while it runs and the same card shows it again when a thread is reopened from the index.
"""

from __future__ import annotations

import json
from typing import Any

from textual.content import Content
from textual.highlight import highlight
from textual.markup import escape
from textual.widgets import Collapsible, Static

TOOL_NAMES = {
    "web_search_call": "Web search",
    "file_search_call": "File search",
    "code_interpreter_call": "Code interpreter",
    "function_call": "Function call",
    "mcp_call": "MCP call",
    "mcp_list_tools": "MCP tools",
    "image_generation_call": "Image generation",
    "custom_tool_call": "Tool call",
    "tool_search_call": "Tool search",
    "local_shell_call": "Shell",
    "computer_call": "Computer use",
}
# Items that are not tool calls: the answer itself and the model's reasoning.
NOT_TOOLS = {"message", "reasoning"}

STATUS_WORDS = {
    "in_progress": "running…",
    "searching": "searching…",
    "interpreting": "running code…",
    "generating": "generating…",
    "code": "writing code…",
    "arguments": "writing arguments…",
    "completed": "done",
    "failed": "failed",
    "incomplete": "stopped",
}
_MAX_TEXT = 400  # characters of a search result or log shown before it is cut


def is_tool_item(item: dict[str, Any]) -> bool:
    return item.get("type") not in NOT_TOOLS


class ToolCard(Collapsible):
    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item
        self.status = item.get("status") or "in_progress"
        self.streamed = ""  # code or arguments as they stream, before the finished item carries them
        self.body = Static(classes="tool-body")
        super().__init__(self.body, title="", collapsed=True, classes=f"tool-card {item.get('type', '')}")
        self._render_card()

    def progress(self, status: str, delta: str) -> None:
        if status in ("code", "arguments"):
            self.streamed += delta
        if status not in ("code_done", "arguments_done"):
            self.status = status
        self._render_card()

    def finish(self, item: dict[str, Any]) -> None:
        self.item = item
        self.status = item.get("status") or "completed"
        self._render_card()

    def _render_card(self) -> None:
        self.title = escape(card_title(self.item, self.status))
        self.body.update(card_body(self.item, self.streamed))
        self.set_class(self.status == "failed", "-failed")


def card_title(item: dict[str, Any], status: str) -> str:
    kind = item.get("type", "")
    name = TOOL_NAMES.get(kind, kind.removesuffix("_call").replace("_", " ").capitalize())
    parts = [name]
    match kind:
        case "web_search_call":
            queries = search_queries(item)
            if queries:
                parts.append(_quoted(queries[0]) + (f" +{len(queries) - 1}" if len(queries) > 1 else ""))
            sources = (item.get("action") or {}).get("sources") or []
            if sources:
                parts.append(_count(len(sources), "source"))
        case "file_search_call":
            queries = item.get("queries") or []
            if queries:
                parts.append(_quoted(queries[0]))
            if item.get("results"):
                parts.append(_count(len(item["results"]), "result"))
        case "code_interpreter_call":
            outputs = item.get("outputs") or []
            images = sum(1 for output in outputs if output.get("type") == "image")
            if images:
                parts.append(_count(images, "image"))
        case "function_call" | "mcp_call" | "custom_tool_call":
            parts.append(f"{item.get('name') or '…'}()")
    parts.append(STATUS_WORDS.get(status, status))
    return " · ".join(parts)


def card_body(item: dict[str, Any], streamed: str = "") -> Content:
    match item.get("type"):
        case "web_search_call":
            return web_search_body(item)
        case "file_search_call":
            return file_search_body(item)
        case "code_interpreter_call":
            return code_interpreter_body(item, streamed)
        case "function_call" | "mcp_call" | "custom_tool_call":
            return function_call_body(item, streamed)
    return _json_body({key: value for key, value in item.items() if key not in ("id", "type", "status")})


def search_queries(item: dict[str, Any]) -> list[str]:
    action = item.get("action") or {}
    return list(action.get("queries") or ([action["query"]] if action.get("query") else []))


def web_search_body(item: dict[str, Any]) -> Content:
    action = item.get("action") or {}
    lines: list[Content] = []
    queries = search_queries(item)
    if queries:
        lines.append(_heading("Queries"))
        lines.extend(Content(f"  {query}") for query in queries)
    if action.get("type") in ("open_page", "find") and action.get("url"):
        lines.append(_heading("Opened" if action["type"] == "open_page" else f"Found {action.get('pattern', '')!r} in"))
        lines.append(Content(f"  {action['url']}"))
    sources = action.get("sources") or []
    if sources:
        lines.append(_heading("Sources"))
        lines.extend(Content(f"  {source.get('url') or source.get('name') or source}") for source in sources)
    if not lines:
        lines.append(Content.styled("Searching the web…", "dim"))
    return Content("\n").join(lines)


def file_search_body(item: dict[str, Any]) -> Content:
    lines: list[Content] = []
    queries = item.get("queries") or []
    if queries:
        lines.append(_heading("Queries"))
        lines.extend(Content(f"  {query}") for query in queries)
    results = item.get("results")
    if results:
        lines.append(_heading("Results"))
        for result in results:
            score = result.get("score")
            score_text = f"{score:.2f}" if isinstance(score, (int, float)) else "–"  # noqa: RUF001 (en dash: no score)
            lines.append(
                Content.assemble(
                    (f"  {score_text} ", "$text-accent"),
                    (result.get("filename") or result.get("file_id") or "", "bold"),
                )
            )
            text = " ".join((result.get("text") or "").split())
            if text:
                lines.append(Content.styled(f"    {_cut(text)}", "dim"))
    elif item.get("status") == "completed":
        lines.append(Content.styled("Results are not in the stream (ask for include=file_search_call.results).", "dim"))
    if not lines:
        lines.append(Content.styled("Searching files…", "dim"))
    return Content("\n").join(lines)


def code_interpreter_body(item: dict[str, Any], streamed: str) -> Content:
    code = (item.get("code") or streamed).replace("\r\n", "\n")
    lines: list[Content] = []
    if code:
        lines.append(highlight(code, language="python"))
    for output in item.get("outputs") or []:
        match output.get("type"):
            case "logs":
                lines.append(_heading("Output"))
                lines.append(Content(_cut(output.get("logs") or "", limit=2000)))
            case "image":
                lines.append(_heading("Image"))
                lines.append(Content(describe_image(output.get("url") or "")))
    if item.get("container_id"):
        lines.append(Content.styled(f"container {item['container_id']}", "dim"))
    return Content("\n").join(lines) if lines else Content.styled("Writing code…", "dim")


def function_call_body(item: dict[str, Any], streamed: str) -> Content:
    arguments = item.get("arguments") or streamed
    lines = [Content.assemble(("name ", "dim"), (item.get("name") or "", "bold"))]
    if arguments:
        lines.append(_json_body(_parsed(arguments)))
    if item.get("output"):
        lines.append(_heading("Output"))
        lines.append(Content(_cut(str(item["output"]), limit=2000)))
    if item.get("error"):
        lines.append(Content.styled(str(item["error"]), "$text-error"))
    return Content("\n").join(lines)


def describe_image(url: str) -> str:
    """A data URL is the image itself: say what it is rather than print a wall of base64."""
    if url.startswith("data:"):
        kind = url[5:].split(";", 1)[0] or "image"
        size = len(url.split(",", 1)[-1]) * 3 // 4  # base64: 4 characters per 3 bytes
        return f"  {kind}, {size:,} bytes (inline)" if size < 10_000 else f"  {kind}, {size // 1024:,} KB (inline)"
    return f"  {url}"


def _parsed(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except (TypeError, ValueError):
        return arguments  # still streaming, or not JSON: show it as it is


def _json_body(value: Any) -> Content:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return highlight(_cut(text, limit=4000), language="json")


def _heading(text: str) -> Content:
    return Content.styled(text, "bold $text-secondary")


def _quoted(text: str) -> str:
    return f"“{_cut(text, limit=60)}”"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _cut(text: str, *, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
