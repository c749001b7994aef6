"""Stateful assistants on the OpenAI Responses API.

from assistant import Assistant
a = Assistant()
t = a.thread(title="support")
print(t.ask("hello").text)

Everything a program (the app included) uses is exported here: `Assistant` and `Thread`, what their methods take
and return, the events a streamed turn yields, the errors, and how models and costs are shown to a person. The
submodules are the library's inside, free to change.
"""

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
from assistant.files import FileOutcome, FileProgress
from assistant.functions import FunctionCall, FunctionTool, function_tool
from assistant.index.records import ComparisonRecord, FileRecord, SearchHit, ThreadInfo
from assistant.model_names import answered_label, display_name
from assistant.pricing import estimate_label, estimate_model, local_estimate
from assistant.thread import MODES, Thread
from assistant.tool_settings import CodeInterpreter, FileSearch, ToolSettings, WebSearch
from assistant.turn import Item, Turn

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
