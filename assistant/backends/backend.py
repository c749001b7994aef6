"""The one protocol every backend follows, and what a backend is given for a turn."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.events import Event
from assistant.index.records import ThreadInfo


@dataclass(frozen=True)
class LocalFile:
    """A file of the thread as the index keeps a local copy of it (for hosted tools run on the client)."""

    file_id: str
    filename: str
    path: str


@dataclass(frozen=True)
class TurnRequest:
    thread: ThreadInfo
    input_text: str
    model: str
    instructions: str | None
    options: dict[str, Any] = field(default_factory=dict)  # max_output_tokens, temperature, …
    # Every item of the thread's earlier turns, oldest first, as recorded in the index: filled for the modes
    # that send the whole history each turn (local, chat), empty for those whose state is on the server.
    history: list[dict[str, Any]] = field(default_factory=list)
    # Hosted tools for this turn, as API tool params, and the `include` values that make the API return
    # what those tools found (see assistant/tool_settings.py).
    tools: list[dict[str, Any]] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    # The thread's files with their local copies, for backends that run file search on the client (the Chat
    # fallback); empty when file search is off.
    local_files: list[LocalFile] = field(default_factory=list)
    # Your own functions offered this turn, as Responses function tool params (assistant/functions.py), and the
    # structured-answer format (`text.format`) when the turn asked for one (assistant/structured.py).
    functions: list[dict[str, Any]] = field(default_factory=list)
    text_format: dict[str, Any] | None = None
    # A turn whose model called functions runs in rounds. From the second round on: every item of this turn
    # after the user's message so far (outputs of earlier rounds, then the function outputs), which the
    # whole-history modes send again, and just the new function outputs, which server-state modes send.
    turn_items: list[dict[str, Any]] = field(default_factory=list)
    new_items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def continuing(self) -> bool:
        """Whether this request continues the turn after function calls (a second or later round)."""
        return bool(self.new_items)

    @property
    def input_item(self) -> dict[str, Any]:
        """The user's message as the item the server stores, and the index records."""
        return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": self.input_text}]}


class Backend(Protocol):
    """Runs one turn. Yields normalized events and ends with one `ResponseEnded`; raises on transport and HTTP
    errors (the thread records the turn either way). Holds no thread state: it is all in the request."""

    name: str

    def stream(self, request: TurnRequest) -> Generator[Event, None, None]: ...

    def astream(self, request: TurnRequest) -> AsyncGenerator[Event, None]: ...


# What a function call no one answered gets as its output when the thread goes on (see `with_open_calls_answered`).
UNANSWERED_CALL_OUTPUT = "error: not run: the conversation went on before this call was answered"


def with_open_calls_answered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`items` with an output for each function call that has none, right after the calls it came with.

    The API refuses a history holding a function call without its output once the conversation goes on ("No tool
    output found for function call ..."; Chat Completions: "An assistant message with 'tool_calls' must be
    followed by tool messages ..."). A thread can hold one: a turn that offered a raw function tool leaves the
    call to the caller, and the caller may just ask the next question. The model is told the call never ran."""
    answered = {item.get("call_id") for item in items if item.get("type") == "function_call_output"}
    result: list[dict[str, Any]] = []
    open_calls: list[str] = []
    for item in items:
        if item.get("type") != "function_call":
            result += [_unanswered(call_id) for call_id in open_calls]
            open_calls = []
        elif item.get("call_id") not in answered:
            open_calls.append(item["call_id"])
        result.append(item)
    return result + [_unanswered(call_id) for call_id in open_calls]


def _unanswered(call_id: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": UNANSWERED_CALL_OUTPUT}
