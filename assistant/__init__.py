"""Stateful assistants on the OpenAI Responses API.

from assistant import Assistant
a = Assistant()
t = a.thread(title="support")
print(t.ask("hello").text)

Everything a program (the app included) uses is exported here: `Assistant` and `Thread`, what their methods take
and return, the events a streamed turn yields, the errors, and how models and costs are shown to a person. The
submodules are the library's inside, free to change.

The names are loaded on first use (PEP 562's module `__getattr__`), so that `import assistant` (which every
`assistant` command does first) costs nothing: `assistant --help` must not pay for the SDK, the index or the
server. Type checkers read the imports below as if they ran.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant import events
    from assistant.client import Assistant
    from assistant.compare import BACKENDS
    from assistant.errors import (
        AssistantError,
        AuthenticationFailed,
        IndexUnavailable,
        ModelNotFound,
        RateLimited,
        ServerError,
        ServerUnreachable,
        StructuredAnswerError,
        ThreadNotFound,
        TurnFailed,
    )
    from assistant.events import Event
    from assistant.file_progress import FileOutcome, FileProgress
    from assistant.functions import FunctionCall, FunctionTool, function_tool
    from assistant.index.records import ComparisonRecord, FileRecord, SearchHit, ThreadInfo
    from assistant.model_names import answered_label, display_name
    from assistant.modes import MODES
    from assistant.pricing import estimate_label, estimate_model, local_estimate
    from assistant.thread import Thread
    from assistant.tool_settings import CodeInterpreter, FileSearch, ToolSettings, WebSearch
    from assistant.turn import Item, Turn

# Where each public name lives.
_MODULE_OF_NAME = {
    "events": "assistant.events",
    "Assistant": "assistant.client",
    "BACKENDS": "assistant.compare",
    "AssistantError": "assistant.errors",
    "AuthenticationFailed": "assistant.errors",
    "IndexUnavailable": "assistant.errors",
    "ModelNotFound": "assistant.errors",
    "RateLimited": "assistant.errors",
    "ServerError": "assistant.errors",
    "ServerUnreachable": "assistant.errors",
    "StructuredAnswerError": "assistant.errors",
    "ThreadNotFound": "assistant.errors",
    "TurnFailed": "assistant.errors",
    "Event": "assistant.events",
    "FileOutcome": "assistant.file_progress",
    "FileProgress": "assistant.file_progress",
    "FunctionCall": "assistant.functions",
    "FunctionTool": "assistant.functions",
    "function_tool": "assistant.functions",
    "ComparisonRecord": "assistant.index.records",
    "FileRecord": "assistant.index.records",
    "SearchHit": "assistant.index.records",
    "ThreadInfo": "assistant.index.records",
    "answered_label": "assistant.model_names",
    "display_name": "assistant.model_names",
    "estimate_label": "assistant.pricing",
    "estimate_model": "assistant.pricing",
    "local_estimate": "assistant.pricing",
    "MODES": "assistant.modes",
    "Thread": "assistant.thread",
    "CodeInterpreter": "assistant.tool_settings",
    "FileSearch": "assistant.tool_settings",
    "ToolSettings": "assistant.tool_settings",
    "WebSearch": "assistant.tool_settings",
    "Item": "assistant.turn",
    "Turn": "assistant.turn",
}


def __getattr__(name: str) -> object:
    module = _MODULE_OF_NAME.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if module == f"assistant.{name}" else getattr(loaded, name)
    globals()[name] = value  # the next use is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BACKENDS",
    "MODES",
    "Assistant",
    "AssistantError",
    "AuthenticationFailed",
    "CodeInterpreter",
    "ComparisonRecord",
    "Event",
    "FileOutcome",
    "FileProgress",
    "FileRecord",
    "FileSearch",
    "FunctionCall",
    "FunctionTool",
    "IndexUnavailable",
    "Item",
    "ModelNotFound",
    "RateLimited",
    "SearchHit",
    "ServerError",
    "ServerUnreachable",
    "StructuredAnswerError",
    "Thread",
    "ThreadInfo",
    "ThreadNotFound",
    "ToolSettings",
    "Turn",
    "TurnFailed",
    "WebSearch",
    "answered_label",
    "display_name",
    "estimate_label",
    "estimate_model",
    "events",
    "function_tool",
    "local_estimate",
]
