"""A thread's hosted-tool settings: which of web search, file search and code interpreter it may use, and how.

Persisted on the thread as JSON, overridable per turn. Turned into the Responses API's `tools` and `include`
(the results the API hides unless asked: search sources, file search results, interpreter outputs).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

# Short names people type (`--tools web,files,code`) and the API's names.
ALIASES = {
    "web": "web_search",
    "web_search": "web_search",
    "files": "file_search",
    "file": "file_search",
    "file_search": "file_search",
    "code": "code_interpreter",
    "python": "code_interpreter",
    "code_interpreter": "code_interpreter",
}
CONTEXT_SIZES = ("low", "medium", "high")
MEMORY_LIMITS = ("1g", "4g", "16g", "64g")


@dataclass(frozen=True)
class WebSearch:
    allowed_domains: tuple[str, ...] = ()
    search_context_size: str | None = None  # low | medium | high
    user_location: dict[str, str] | None = None  # {"type": "approximate", "country": "GB", "city": ...}

    def api_tool(self) -> dict[str, Any]:
        tool: dict[str, Any] = {"type": "web_search"}
        if self.allowed_domains:
            tool["filters"] = {"allowed_domains": list(self.allowed_domains)}
        if self.search_context_size:
            tool["search_context_size"] = self.search_context_size
        if self.user_location:
            tool["user_location"] = {"type": "approximate", **self.user_location}
        return tool


@dataclass(frozen=True)
class FileSearch:
    vector_store_ids: tuple[str, ...] = ()  # stores besides the thread's own (which is always searched)
    max_num_results: int | None = None  # 1..50

    def api_tool(self, thread_stores: Iterable[str]) -> dict[str, Any] | None:
        stores = list(dict.fromkeys([*thread_stores, *self.vector_store_ids]))
        if not stores:
            return None  # nothing to search: the API refuses a file_search tool without stores
        tool: dict[str, Any] = {"type": "file_search", "vector_store_ids": stores}
        if self.max_num_results:
            tool["max_num_results"] = self.max_num_results
        return tool


@dataclass(frozen=True)
class CodeInterpreter:
    container: str = "auto"  # "auto" (the server picks or reuses one) or a pinned container id (cntr_…)
    memory_limit: str | None = None  # 1g | 4g | 16g | 64g, for auto containers

    def api_tool(self) -> dict[str, Any]:
        if self.container != "auto":
            return {"type": "code_interpreter", "container": self.container}
        container: dict[str, Any] = {"type": "auto"}
        if self.memory_limit:
            container["memory_limit"] = self.memory_limit
        return {"type": "code_interpreter", "container": container}


@dataclass(frozen=True)
class ToolSettings:
    web_search: WebSearch | None = None
    file_search: FileSearch | None = None
    code_interpreter: CodeInterpreter | None = None

    @property
    def enabled(self) -> list[str]:
        return [name for name in ("web_search", "file_search", "code_interpreter") if getattr(self, name)]

    def api_tools(self, thread_stores: Iterable[str] = ()) -> list[dict[str, Any]]:
        tools = []
        if self.web_search:
            tools.append(self.web_search.api_tool())
        if self.file_search and (tool := self.file_search.api_tool(thread_stores)):
            tools.append(tool)
        if self.code_interpreter:
            tools.append(self.code_interpreter.api_tool())
        return tools

    def includes(self) -> list[str]:
        """Ask for what the API leaves out unless included, so the index can record it."""
        wanted = {
            "web_search": "web_search_call.action.sources",
            "file_search": "file_search_call.results",
            "code_interpreter": "code_interpreter_call.outputs",
        }
        return [wanted[name] for name in self.enabled]

    def to_json(self) -> str | None:
        if not self.enabled:
            return None
        return json.dumps({name: asdict(getattr(self, name)) for name in self.enabled})

    @classmethod
    def from_json(cls, text: str | None) -> ToolSettings:
        if not text:
            return cls()
        return parse_tools(json.loads(text))


def parse_tools(spec: Any) -> ToolSettings:
    """Tool settings from what people pass: names (`"web"`, `"file_search"`, `"web,files,code"`), dicts
    (`{"type": "web_search", "allowed_domains": [...]}` or `{"web_search": {...}}`), a ToolSettings, or None."""
    if spec is None:
        return ToolSettings()
    if isinstance(spec, ToolSettings):
        return spec
    if isinstance(spec, str):
        spec = [part for part in spec.split(",") if part.strip()]
    if isinstance(spec, dict) and "type" not in spec:  # {"web_search": {...}, ...} as stored
        spec = [{"type": name, **(options or {})} for name, options in spec.items()]
    if isinstance(spec, dict):
        spec = [spec]
    settings: dict[str, Any] = {}
    for entry in spec:
        name, options = (entry, {}) if isinstance(entry, str) else (entry.get("type", ""), dict(entry))
        options.pop("type", None)
        canonical = ALIASES.get(str(name).strip().lower())
        if canonical is None:
            raise ValueError(
                f"Unknown tool {name!r}; use web_search (web), file_search (files) or code_interpreter (code)."
            )
        settings[canonical] = _tool(canonical, options)
    return ToolSettings(**settings)


def _tool(name: str, options: dict[str, Any]) -> WebSearch | FileSearch | CodeInterpreter:
    try:
        if name == "web_search":
            size = options.get("search_context_size")
            if size is not None and size not in CONTEXT_SIZES:
                raise ValueError(f"search_context_size must be one of {', '.join(CONTEXT_SIZES)}, not {size!r}")
            return WebSearch(
                allowed_domains=tuple(options.get("allowed_domains") or ()),
                search_context_size=size,
                user_location=options.get("user_location"),
            )
        if name == "file_search":
            return FileSearch(
                vector_store_ids=tuple(options.get("vector_store_ids") or ()),
                max_num_results=options.get("max_num_results"),
            )
        limit = options.get("memory_limit")
        if limit is not None and limit not in MEMORY_LIMITS:
            raise ValueError(f"memory_limit must be one of {', '.join(MEMORY_LIMITS)}, not {limit!r}")
        return CodeInterpreter(container=options.get("container") or "auto", memory_limit=limit)
    except TypeError as exc:
        raise ValueError(f"Bad options for {name}: {exc}") from exc
