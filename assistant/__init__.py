"""Stateful assistants on the OpenAI Responses API.

from assistant import Assistant
a = Assistant()
t = a.thread(title="support")
print(t.ask("hello").text)
"""

from assistant import events
from assistant.client import Assistant
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
from assistant.functions import FunctionCall, FunctionTool, function_tool
from assistant.index.records import SearchHit, ThreadInfo
from assistant.thread import Thread
from assistant.turn import Item, Turn

__all__ = [
    "Assistant",
    "AssistantError",
    "AuthenticationFailed",
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
    "Turn",
    "TurnFailed",
    "events",
    "function_tool",
]
