"""Hosted tools in the local server: their state (files, vector stores, containers), their routes, and running
one tool call of a response with the event grammar the real API streams (as recorded, tests/recordings/):

    web_search_call:       output_item.added(in_progress) > web_search_call.in_progress > .searching >
                           .completed > output_item.done(action{type: search, query, sources if included})
    file_search_call:      output_item.added(queries [], results null) > file_search_call.in_progress >
                           .searching > .completed > output_item.done(queries; results only if included)
    code_interpreter_call: output_item.added(in_progress, container_id, code "", outputs []) >
                           code_interpreter_call.in_progress > code_interpreter_call_code.delta+ >
                           code_interpreter_call_code.done > .interpreting > .completed >
                           output_item.done(outputs only if included)

A call that fails (no web search provider, a sandbox limit) ends with `output_item.done` at status `failed`
right after its last progress event: the API has no `*.failed` event for these tools.

Each run returns two versions of the call item: the one clients see (hidden results left out unless `include`
asks for them) and the one the engine sees, which always carries the results it must answer from, plus the
private keys `results` (web pages), `files` (container files the code wrote) and `error`. The engine's copy
only lives in the prompt of this response; it is never listed back to clients.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.routing import Route

from ..tools import (
    Isolation,
    NoWebSearchProvider,
    SandboxLimits,
    ToolError,
    WebSearchProvider,
    default_web_search_provider,
)
from ..tools.untrusted_folder import RefusedEntry
from .container_runtime import DEFAULT_IDLE_TIMEOUT_S, Containers
from .containers_api import ContainersApi
from .engines.engine import ToolCall
from .error_responses import ApiError, invalid_type, not_found
from .files_api import FilesApi
from .ids import new_id
from .request_parsing import score_threshold, search_filters
from .sse import Event, EventSequencer
from .tool_state import ToolStore
from .vector_stores import VectorStores
from .vector_stores_api import VectorStoresApi

Item = dict[str, Any]

WEB_SEARCH_TYPES = ("web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11")
DEFAULT_FILE_SEARCH_RESULTS = 20  # recorded: the echoed file_search tool says max_num_results 20
MAX_IMAGE_BYTES = 8 << 20  # larger images stay files only: a data URL that big would bloat every event
_RESULTS_BY_CONTEXT_SIZE = {"low": 3, "medium": 5, "high": 8}
_OBFUSCATION_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class HostedToolSettings:
    container_idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    sandbox_limits: SandboxLimits = field(default_factory=SandboxLimits)
    sandbox_isolation: Isolation | None = None  # None: the strongest this machine offers (detect_isolation)
    code_calls_at_once: int = 4  # sandbox calls running at once, server-wide (also code_lane.py's threads)
    code_calls_waiting: int = 16  # responses that may run code waiting for a thread; one more is a 429
    code_call_wait_s: float = 60.0  # how long a sandbox call waits for its turn before it fails (429)
    max_upload_bytes: int = 512 << 20  # the real API's per-file limit
    # "default": ASSISTANT_WEB_CORPUS, else python3-doc, else the pydoc corpus (assistant.tools.web_search);
    # None: no provider (web search is turned off).
    web_search: WebSearchProvider | Literal["default"] | None = "default"


@dataclass(frozen=True)
class ToolOutcome:
    item: Item  # as clients see it
    context_item: Item  # as the engine sees it
    web_search_requests: int = 0


class HostedTools:
    def __init__(self, store: ToolStore, settings: HostedToolSettings = HostedToolSettings()) -> None:
        self.store = store
        self.settings = settings
        self.vector_stores = VectorStores(store)
        self.containers = Containers(
            store,
            idle_timeout_s=settings.container_idle_timeout_s,
            limits=settings.sandbox_limits,
            isolation=settings.sandbox_isolation,
            calls_at_once=settings.code_calls_at_once,
            call_wait_s=settings.code_call_wait_s,
        )
        provider = default_web_search_provider() if settings.web_search == "default" else settings.web_search
        self.web_search: WebSearchProvider = provider or NoWebSearchProvider()

    def routes(self) -> list[Route]:
        limit = self.settings.max_upload_bytes
        return (
            FilesApi(self.store, limit).routes()
            + VectorStoresApi(self.vector_stores).routes()
            + ContainersApi(self.containers, limit).routes()
        )

    def close(self) -> None:
        self.vector_stores.close()
        self.containers.close()

    # -- request checks (before the response starts) ---------------------------------------------------------

    def check_request(self, body: Mapping[str, Any]) -> None:
        tools = body.get("tools") or []
        if not isinstance(tools, list):
            raise invalid_type("tools", "an array of tools", tools)
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise invalid_type(f"tools[{index}]", "an object", tool)
            if tool.get("type") == "file_search":
                store_ids = tool.get("vector_store_ids")
                if not isinstance(store_ids, list) or not all(isinstance(s, str) for s in store_ids):
                    raise ApiError(
                        400,
                        f"Missing required parameter: 'tools[{index}].vector_store_ids'.",
                        param=f"tools[{index}].vector_store_ids",
                        code="missing_required_parameter",
                    )
                for store_id in store_ids:
                    if self.store.get_vector_store(store_id) is None:
                        raise ApiError(
                            400,
                            f"Vector store with id '{store_id}' not found.",
                            param=f"tools[{index}].vector_store_ids",
                            code="vector_store_not_found",
                        )
                score_threshold(tool.get("ranking_options"), f"tools[{index}].ranking_options")
                search_filters(tool.get("filters"), f"tools[{index}].filters")
            elif tool.get("type") == "code_interpreter":
                container = tool.get("container")
                if isinstance(container, str):
                    self.containers.active(container)
                elif not (isinstance(container, dict) and container.get("type") == "auto"):
                    raise ApiError(
                        400,
                        f"Missing required parameter: 'tools[{index}].container'.",
                        param=f"tools[{index}].container",
                        code="missing_required_parameter",
                    )
        self.containers.expire_idle()

    # -- running one call -------------------------------------------------------------------------------------

    def run(
        self,
        call: ToolCall,
        *,
        request: Mapping[str, Any],
        context: Sequence[Item],
        seq: EventSequencer,
        output_index: int,
        obfuscate: bool,
    ) -> Generator[Event, None, ToolOutcome]:
        arguments = json.loads(call.arguments or "{}")
        include = set(request.get("include") or [])
        tool = _tool_config(request, call.kind)
        if call.kind == "web_search":
            return (yield from self._web_search(arguments, tool, include, seq, output_index))
        if call.kind == "file_search":
            return (yield from self._file_search(arguments, tool, include, seq, output_index))
        if call.kind == "code_interpreter":
            return (yield from self._code_interpreter(arguments, tool, include, context, seq, output_index, obfuscate))
        raise ValueError(f"not a hosted tool: {call.kind}")

    def _web_search(
        self, arguments: Mapping[str, Any], tool: Mapping[str, Any], include: set[str], seq: EventSequencer, index: int
    ) -> Generator[Event, None, ToolOutcome]:
        query = str(arguments.get("query") or "")
        item: Item = {
            "id": new_id("ws"),
            "type": "web_search_call",
            "status": "in_progress",
            # The recorded `added` item has no action; the SDK (strict) and the spec require one.
            "action": {"type": "search"},
        }
        yield seq.event("response.output_item.added", item=item, output_index=index)
        yield seq.event("response.web_search_call.in_progress", item_id=item["id"], output_index=index)
        yield seq.event("response.web_search_call.searching", item_id=item["id"], output_index=index)
        allowed = (tool.get("filters") or {}).get("allowed_domains") or []
        max_results = _RESULTS_BY_CONTEXT_SIZE.get(tool.get("search_context_size") or "medium", 5)
        try:
            results = self.web_search.search(query, max_results=max_results, allowed_domains=allowed)
        except ToolError as error:
            failed = {**item, "status": "failed", "action": {"type": "search", "query": query}}
            yield seq.event("response.output_item.done", item=failed, output_index=index)
            return ToolOutcome(failed, {**failed, "error": str(error)}, web_search_requests=1)
        yield seq.event("response.web_search_call.completed", item_id=item["id"], output_index=index)
        action: Item = {"type": "search", "query": query}
        sources = [{"type": "url", "url": result.url} for result in results]
        done = {
            **item,
            "status": "completed",
            "action": {**action, "sources": sources} if "web_search_call.action.sources" in include else action,
        }
        yield seq.event("response.output_item.done", item=done, output_index=index)
        private = {
            **done,
            "action": {**action, "sources": sources},
            "results": [{"url": r.url, "title": r.title, "snippet": r.snippet} for r in results],
        }
        return ToolOutcome(done, private, web_search_requests=1)

    def _file_search(
        self, arguments: Mapping[str, Any], tool: Mapping[str, Any], include: set[str], seq: EventSequencer, index: int
    ) -> Generator[Event, None, ToolOutcome]:
        queries = arguments.get("queries") or [arguments.get("query") or ""]
        item: Item = {
            "id": new_id("fs"),
            "type": "file_search_call",
            "status": "in_progress",
            "queries": [],
            "results": None,
        }
        yield seq.event("response.output_item.added", item=item, output_index=index)
        yield seq.event("response.file_search_call.in_progress", item_id=item["id"], output_index=index)
        yield seq.event("response.file_search_call.searching", item_id=item["id"], output_index=index)
        max_results = tool.get("max_num_results") or DEFAULT_FILE_SEARCH_RESULTS
        threshold = score_threshold(tool.get("ranking_options"))  # checked by check_request
        best: dict[tuple[str, str], Item] = {}
        for query in queries:
            for hit in self.vector_stores.search(
                tool.get("vector_store_ids") or [],
                query,
                max_results,
                filters=tool.get("filters"),
                score_threshold=threshold,
            ):
                key = (hit.file_id, hit.text)
                if key not in best or best[key]["score"] < hit.score:
                    best[key] = {
                        "attributes": dict(hit.attributes),
                        "file_id": hit.file_id,
                        "filename": hit.filename,
                        "score": round(hit.score, 4),
                        "text": hit.text,
                        "vector_store_id": hit.vector_store_id,
                    }
        results = sorted(best.values(), key=lambda result: -result["score"])[:max_results]
        yield seq.event("response.file_search_call.completed", item_id=item["id"], output_index=index)
        done = {
            **item,
            "status": "completed",
            "queries": list(queries),
            "results": results if "file_search_call.results" in include else None,
        }
        yield seq.event("response.output_item.done", item=done, output_index=index)
        return ToolOutcome(done, {**done, "results": results})

    def _code_interpreter(
        self,
        arguments: Mapping[str, Any],
        tool: Mapping[str, Any],
        include: set[str],
        context: Sequence[Item],
        seq: EventSequencer,
        index: int,
        obfuscate: bool,
    ) -> Generator[Event, None, ToolOutcome]:
        code = str(arguments.get("code") or "")
        container = tool.get("container")
        container_id = (
            container
            if isinstance(container, str)
            else self.containers.auto_container(container if isinstance(container, dict) else {}, context)
        )
        item: Item = {
            "id": new_id("ci"),
            "type": "code_interpreter_call",
            "status": "in_progress",
            "code": "",
            "container_id": container_id,
            "outputs": [],
        }
        yield seq.event("response.output_item.added", item=item, output_index=index)
        yield seq.event("response.code_interpreter_call.in_progress", item_id=item["id"], output_index=index)
        for piece in _code_pieces(code):
            fields: Item = {"delta": piece, "item_id": item["id"]}
            if obfuscate:
                fields["obfuscation"] = "".join(
                    secrets.choice(_OBFUSCATION_ALPHABET) for _ in range(max(2, 16 - len(piece)))
                )
            yield seq.event("response.code_interpreter_call_code.delta", **fields, output_index=index)
        yield seq.event("response.code_interpreter_call_code.done", code=code, item_id=item["id"], output_index=index)
        yield seq.event("response.code_interpreter_call.interpreting", item_id=item["id"], output_index=index)
        outputs: list[Item] = []
        try:
            result, files = self.containers.run_code(container_id, code)
            logs, error = result.logs, result.error
            for produced in result.files:  # images first, as recorded
                if produced.media_type and produced.size <= MAX_IMAGE_BYTES:
                    try:
                        encoded = base64.b64encode(produced.read(MAX_IMAGE_BYTES)).decode()
                    except RefusedEntry:
                        continue  # no longer a regular file in the folder (the code swapped it): no image
                    outputs.append({"type": "image", "url": f"data:{produced.media_type};base64,{encoded}"})
        except ApiError as api_error:  # the container expired between the check and the call
            logs, error, files = "", api_error.message, []
        text = logs + (("\n" if logs and not logs.endswith("\n") else "") + f"[error] {error}" if error else "")
        if text:
            outputs.append({"type": "logs", "logs": text})
        status = "failed" if error else "completed"
        if status == "completed":
            yield seq.event("response.code_interpreter_call.completed", item_id=item["id"], output_index=index)
        done = {
            **item,
            "status": status,
            "code": code,
            "outputs": outputs if "code_interpreter_call.outputs" in include else None,
        }
        yield seq.event("response.output_item.done", item=done, output_index=index)
        private = {
            **done,
            "outputs": outputs,
            "error": error,
            "files": [{"file_id": f["id"], "filename": f["path"].rsplit("/", 1)[-1], "path": f["path"]} for f in files],
        }
        return ToolOutcome(done, private)


def hosted_tool_kinds(request: Mapping[str, Any]) -> set[str]:
    kinds = set()
    for tool in request.get("tools") or []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind in WEB_SEARCH_TYPES:
            kinds.add("web_search")
        elif kind in ("file_search", "code_interpreter"):
            kinds.add(kind)
    return kinds


def tool_usage(web_search_requests: int) -> Item:
    """`Response.tool_usage` as recorded (2026): every family present, zero when unused."""
    return {
        "image_gen": {
            "input_tokens": 0,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
            "output_tokens": 0,
            "output_tokens_details": {"image_tokens": 0, "text_tokens": 0},
            "total_tokens": 0,
        },
        "web_search": {"num_requests": web_search_requests},
    }


def _tool_config(request: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    types = WEB_SEARCH_TYPES if kind == "web_search" else (kind,)
    for tool in request.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") in types:
            return tool
    raise not_found("Tool", kind)


def _code_pieces(code: str) -> list[str]:
    """The code as the model would stream it: a few characters at a time, split after spaces and newlines."""
    pieces: list[str] = []
    current = ""
    for character in code:
        current += character
        if character in " \n" and len(current) >= 4:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces or [""]
