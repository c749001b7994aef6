"""Hosted tools as Chat function tools: what the model is offered, how one call runs on the client, and how a
recorded hosted-tool item goes back into a Chat history.

The model sees three functions named like the hosted tools (`web_search(query)`, `file_search(queries)`,
`code_interpreter(code)`) and gets JSON back. Everyone else sees what the Responses API would have produced:
`web_search_call` / `file_search_call` / `code_interpreter_call` items, their progress events in the order the
API streams them, and results hidden unless `include` asks for them (see assistant/server/hosted_tools.py).

A call runs in three steps so the async backend can run the blocking middle one on a worker thread:
`started` (item added, in progress), `execute` (the runtime works), `finished` (completed or failed, item done).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.backends.backend import TurnRequest
from assistant.backends.chat_citations import CitationSources
from assistant.backends.tool_runtimes import LocalToolRuntimes
from assistant.events import Event, ItemAdded, ItemDone, ToolCallProgress
from assistant.tools import ToolError
from assistant.tools.code_sandbox import SANDBOX_PATH, ProducedFile
from assistant.tools.untrusted_folder import RefusedEntry

Item = dict[str, Any]

WEB_SEARCH_TYPES = ("web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11")
HOSTED_ITEM_TYPES = {
    "web_search": "web_search_call",
    "file_search": "file_search_call",
    "code_interpreter": "code_interpreter_call",
}
_ITEM_ID_PREFIX = {"web_search": "ws", "file_search": "fs", "code_interpreter": "ci"}
_RESULTS_BY_CONTEXT_SIZE = {"low": 3, "medium": 5, "high": 8}  # as the local server
DEFAULT_FILE_SEARCH_RESULTS = 20  # the API's default max_num_results
MAX_IMAGE_BYTES = 8 << 20  # larger images stay files only, as on the local server
MAX_LOGS_FOR_MODEL = 8000  # characters of printed output the model is sent back

FUNCTIONS: dict[str, Item] = {
    "web_search": {
        "type": "function",
        "name": "web_search",
        "description": "Search the web. Returns pages (url, title, snippet). Cite a page as a Markdown link "
        "[title](url).",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "what to search"}},
            "required": ["query"],
            "additionalProperties": False,
        },
    },
    "file_search": {
        "type": "function",
        "name": "file_search",
        "description": "Search the files the user attached. Returns passages with their file name. Name the file "
        'after what you quote from it, like: "quote" (filename).',
        "parameters": {
            "type": "object",
            "properties": {
                "queries": {"type": "array", "items": {"type": "string"}, "description": "one or more search queries"}
            },
            "required": ["queries"],
            "additionalProperties": False,
        },
    },
    "code_interpreter": {
        "type": "function",
        "name": "code_interpreter",
        "description": "Run Python code in a persistent sandbox (working folder /mnt/data; variables survive). "
        "Returns what it printed and the files it wrote; link a file as "
        "[name](sandbox:/mnt/data/name).",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "Python code"}},
            "required": ["code"],
            "additionalProperties": False,
        },
    },
}


def hosted_kind(tool: Mapping[str, Any]) -> str | None:
    kind = tool.get("type")
    if kind in WEB_SEARCH_TYPES:
        return "web_search"
    return kind if kind in ("file_search", "code_interpreter") else None


def function_tools(request: TurnRequest) -> list[Item]:
    """The request's hosted tools as functions (file search only when the thread has local copies of files to
    search). The user's own functions (`request.functions`) are not these: they pass through untouched."""
    kinds = [hosted_kind(tool) for tool in request.tools]
    return [FUNCTIONS[kind] for kind in FUNCTIONS if kind in kinds and (kind != "file_search" or request.local_files)]


def is_hosted_call(item: Mapping[str, Any], request: TurnRequest) -> bool:
    """Whether a function_call item is the model calling one of the hosted tools this turn offers."""
    return (
        item.get("type") == "function_call"
        and item.get("name") in FUNCTIONS
        and any(hosted_kind(tool) == item.get("name") for tool in request.tools)
    )


# -- history --------------------------------------------------------------------------------------------------


def replayable(history: Sequence[Item]) -> list[Item]:
    """The history with each recorded hosted-tool item as the function call and output the model would have
    seen, so a later turn knows what earlier searches found and what code ran."""
    items: list[Item] = []
    for item in history:
        kind = {value: key for key, value in HOSTED_ITEM_TYPES.items()}.get(item.get("type", ""))
        if kind is None:
            items.append(item)
            continue
        call_id = f"call_{item.get('id') or secrets.token_hex(12)}"
        items.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": kind,
                "arguments": json.dumps(_recorded_arguments(kind, item)),
            }
        )
        items.append(
            {
                "type": "function_call_output",
                "call_id": call_id,
                "output": json.dumps(_recorded_output(kind, item), ensure_ascii=False),
            }
        )
    return items


def _recorded_arguments(kind: str, item: Item) -> Item:
    if kind == "web_search":
        return {"query": (item.get("action") or {}).get("query") or ""}
    if kind == "file_search":
        return {"queries": list(item.get("queries") or [])}
    return {"code": item.get("code") or ""}


def _recorded_output(kind: str, item: Item) -> Item:
    if kind == "web_search":
        sources = (item.get("action") or {}).get("sources") or []
        return {"results": [{"url": source.get("url")} for source in sources if source.get("url")]}
    if kind == "file_search":
        return {
            "results": [
                {key: result.get(key) for key in ("file_id", "filename", "score", "text")}
                for result in item.get("results") or []
            ]
        }
    logs = "\n".join(output.get("logs", "") for output in item.get("outputs") or [] if output.get("type") == "logs")
    return {"logs": logs[-MAX_LOGS_FOR_MODEL:]}


# -- running one call -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostedCall:
    """A function call of the model that stands for a hosted tool, and the item it becomes."""

    call_id: str
    name: str  # web_search | file_search | code_interpreter
    arguments: str
    item_id: str = field(default="")
    output_index: int = 0

    @property
    def parsed_arguments(self) -> Item:
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Outcome:
    item: Item  # the finished item as clients see it (results only if included)
    output: str  # the function output the model gets, JSON
    sources: CitationSources  # what the answer may cite


class HostedToolRunner:
    def __init__(self, runtimes: LocalToolRuntimes, request: TurnRequest) -> None:
        self.runtimes = runtimes
        self.request = request
        self.include = set(request.include)

    def new_call(self, call_id: str, name: str, arguments: str, output_index: int) -> HostedCall:
        return HostedCall(call_id, name, arguments, f"{_ITEM_ID_PREFIX[name]}_{secrets.token_hex(24)}", output_index)

    def started(self, call: HostedCall) -> list[Event]:
        item_type = HOSTED_ITEM_TYPES[call.name]
        index = call.output_index
        item: Item = {"id": call.item_id, "type": item_type, "status": "in_progress"}
        if call.name == "web_search":
            item["action"] = {"type": "search"}
        elif call.name == "file_search":
            item.update(queries=[], results=None)
        else:
            item.update(code="", container_id=self._container_id, outputs=[])
        events: list[Event] = [
            ItemAdded(item=item, output_index=index),
            ToolCallProgress(call.item_id, index, item_type, "in_progress"),
        ]
        if call.name == "code_interpreter":
            code = str(call.parsed_arguments.get("code") or "")
            events += [
                ToolCallProgress(call.item_id, index, item_type, "code", delta=code),
                ToolCallProgress(call.item_id, index, item_type, "code_done", delta=code),
                ToolCallProgress(call.item_id, index, item_type, "interpreting"),
            ]
        else:
            events.append(ToolCallProgress(call.item_id, index, item_type, "searching"))
        return events

    def execute(self, call: HostedCall) -> Outcome:
        """Run the call (blocking). Tool failures become a failed item and an error the model reads."""
        arguments = call.parsed_arguments
        if call.name == "web_search":
            return self._web_search(call, arguments)
        if call.name == "file_search":
            return self._file_search(call, arguments)
        return self._code_interpreter(call, arguments)

    def finished(self, call: HostedCall, outcome: Outcome) -> list[Event]:
        events: list[Event] = []
        if outcome.item["status"] == "completed":
            events.append(ToolCallProgress(call.item_id, call.output_index, outcome.item["type"], "completed"))
        return [*events, ItemDone(item=outcome.item, output_index=call.output_index)]

    # the three tools

    def _tool(self, name: str) -> Mapping[str, Any]:
        return next((tool for tool in self.request.tools if hosted_kind(tool) == name), {})

    def _web_search(self, call: HostedCall, arguments: Item) -> Outcome:
        query = str(arguments.get("query") or "")
        tool = self._tool("web_search")
        action: Item = {"type": "search", "query": query}
        try:
            pages = self.runtimes.web_search(
                query,
                max_results=_RESULTS_BY_CONTEXT_SIZE.get(tool.get("search_context_size") or "medium", 5),
                allowed_domains=(tool.get("filters") or {}).get("allowed_domains") or [],
            )
        except ToolError as error:
            item = {"id": call.item_id, "type": "web_search_call", "status": "failed", "action": action}
            return Outcome(item, json.dumps({"error": str(error)}), CitationSources())
        sources = [{"type": "url", "url": page.url} for page in pages]
        if "web_search_call.action.sources" in self.include:
            action = {**action, "sources": sources}
        item = {"id": call.item_id, "type": "web_search_call", "status": "completed", "action": action}
        output = {"query": query, "results": [{"url": p.url, "title": p.title, "snippet": p.snippet} for p in pages]}
        return Outcome(
            item,
            json.dumps(output, ensure_ascii=False),
            CitationSources(pages={page.url: page.title for page in pages}),
        )

    def _file_search(self, call: HostedCall, arguments: Item) -> Outcome:
        raw = arguments.get("queries") or [arguments.get("query") or ""]
        queries = [str(query) for query in (raw if isinstance(raw, list) else [raw])]
        tool = self._tool("file_search")
        hits = self.runtimes.file_search(
            self.request.local_files, queries, max_results=tool.get("max_num_results") or DEFAULT_FILE_SEARCH_RESULTS
        )
        results = [
            {
                "attributes": dict(hit.attributes),
                "file_id": hit.file_id,
                "filename": hit.filename,
                "score": round(hit.score, 4),
                "text": hit.text,
            }
            for hit in hits
        ]
        item = {
            "id": call.item_id,
            "type": "file_search_call",
            "status": "completed",
            "queries": queries,
            "results": results if "file_search_call.results" in self.include else None,
        }
        output = {"results": [{k: result[k] for k in ("file_id", "filename", "score", "text")} for result in results]}
        return Outcome(
            item,
            json.dumps(output, ensure_ascii=False),
            CitationSources(files={hit.filename: hit.file_id for hit in hits}),
        )

    @property
    def _container_id(self) -> str:
        return self.runtimes.container_id(self.request.thread.id)

    def _code_interpreter(self, call: HostedCall, arguments: Item) -> Outcome:
        code = str(arguments.get("code") or "")
        container_id = self._container_id
        try:
            result = self.runtimes.run_code(self.request.thread.id, code)
            logs, error, produced = result.logs, result.error, result.files
        except ToolError as failure:
            logs, error, produced = "", str(failure), []
        # Images first, as the API sends them.
        outputs: list[Item] = [{"type": "image", "url": url} for url in map(_image_url, produced) if url]
        text = logs + (("\n" if logs and not logs.endswith("\n") else "") + f"[error] {error}" if error else "")
        if text:
            outputs.append({"type": "logs", "logs": text})
        files = [
            {
                "file_id": _local_file_id(container_id, file.name),
                "filename": file.name.rsplit("/", 1)[-1],
                "path": f"{SANDBOX_PATH}/{file.name}",
            }
            for file in produced
        ]
        item = {
            "id": call.item_id,
            "type": "code_interpreter_call",
            "status": "failed" if error else "completed",
            "code": code,
            "container_id": container_id,
            "outputs": outputs if "code_interpreter_call.outputs" in self.include else None,
        }
        output = {"logs": text[-MAX_LOGS_FOR_MODEL:], "error": error, "files": files}
        sources = CitationSources(
            container_files={
                file["path"]: {"container_id": container_id, "file_id": file["file_id"], "filename": file["filename"]}
                for file in files
            }
        )
        return Outcome(item, json.dumps(output, ensure_ascii=False), sources)


def _image_url(file: ProducedFile) -> str | None:
    """The data URL of a produced image, or None: not an image, too large, or no longer a regular file in the
    folder (the code can swap the name for a link to a host file; the read goes through the folder)."""
    if not file.media_type or file.size > MAX_IMAGE_BYTES:
        return None
    try:
        return f"data:{file.media_type};base64,{base64.b64encode(file.read(MAX_IMAGE_BYTES)).decode()}"
    except RefusedEntry:
        return None


def _local_file_id(container_id: str, name: str) -> str:
    # Stable per container and path: the same file rewritten by a later call keeps its id.
    return "cfile_" + hashlib.sha256(f"{container_id}/{name}".encode()).hexdigest()[:32]
