"""The normalized event vocabulary every backend emits.

A turn is a stream of these events. The Responses backend translates the API's SSE events into them; the Chat
Completions fallback produces the same ones, so the UI, the index and `compare` never branch on the backend.
Every event has a `type` field typed as a `Literal`, so `Event` is a tagged union: consumers dispatch on it
(`match event.type`) and a type checker narrows the event from the tag.

A turn always ends with exactly one terminal event: `turn.completed`, `turn.incomplete`, `turn.failed` or
`turn.cancelled`, carrying the finished `Turn`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from assistant.turn import Turn


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The turn row is in the index and the request is about to go out."""

    type: Literal["turn.started"] = field(default="turn.started", init=False)
    thread_id: str
    turn_id: int


@dataclass(frozen=True, slots=True)
class ConversationCreated:
    """The backend created a server-side conversation for the thread: on its first turn in conversation mode,
    or to rebuild lost server state, seeded with `seeded_items` items of the thread's history."""

    type: Literal["conversation.created"] = field(default="conversation.created", init=False)
    conversation_id: str
    seeded_items: int = 0


@dataclass(frozen=True, slots=True)
class StateRebuilt:
    """The server no longer knew the thread's conversation or previous response (expired, deleted, another
    server); the turn is being sent again with the state rebuilt from the index. Said once, kept on record."""

    type: Literal["thread.state_rebuilt"] = field(default="thread.state_rebuilt", init=False)
    reason: str


@dataclass(frozen=True, slots=True)
class ContainerReplaced:
    """The code interpreter's container expired between turns and the code ran in a new one: what the old one
    held (variables, files) is gone. Said once, kept on record."""

    type: Literal["container.replaced"] = field(default="container.replaced", init=False)
    old_container_id: str
    new_container_id: str
    message: str


@dataclass(frozen=True, slots=True)
class ToolsUnavailable:
    """Tools offered on a Chat Completions server could not be used there: the server refused them (the turn
    was answered without them), or the model answered without ever calling them, as a server without function
    calling does. `tools` names them. Said once per thread."""

    type: Literal["tools.unavailable"] = field(default="tools.unavailable", init=False)
    tools: list[str]
    message: str


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """The server accepted the request and named the response."""

    type: Literal["response.started"] = field(default="response.started", init=False)
    response_id: str
    model: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    type: Literal["text.delta"] = field(default="text.delta", init=False)
    text: str
    item_id: str
    output_index: int


@dataclass(frozen=True, slots=True)
class ItemAdded:
    """An output item began (message, reasoning, tool call...). `item` is its wire JSON so far."""

    type: Literal["item.added"] = field(default="item.added", init=False)
    item: dict[str, Any]
    output_index: int


@dataclass(frozen=True, slots=True)
class ItemDone:
    """An output item is finished. `item` is its full wire JSON, as the server will list it back."""

    type: Literal["item.done"] = field(default="item.done", init=False)
    item: dict[str, Any]
    output_index: int


@dataclass(frozen=True, slots=True)
class ToolCallProgress:
    """A hosted tool call moved on: `status` is in_progress, searching, interpreting, completed or failed;
    `delta` carries streamed code or arguments where the tool streams them."""

    type: Literal["tool_call.progress"] = field(default="tool_call.progress", init=False)
    item_id: str
    output_index: int
    tool: str
    status: str
    delta: str = ""


@dataclass(frozen=True, slots=True)
class FunctionResult:
    """One of your functions ran (or was refused) for a `function_call` item of this turn: what the model sent
    and what it will read back. `error` is set when the function raised, its arguments did not validate, it is
    unknown, or its approval was denied (`approved` False); `output` is then the error text the model sees."""

    type: Literal["function.result"] = field(default="function.result", init=False)
    call_id: str
    item_id: str | None
    name: str
    arguments: str
    output: str
    duration_ms: float
    error: str | None = None
    approved: bool | None = None  # None: the function needs no approval
    round: int = 1  # the turn's model round that asked for the call


@dataclass(frozen=True, slots=True)
class Citation:
    """An annotation on answer text: url_citation, file_citation, container_file_citation or file_path."""

    type: Literal["citation"] = field(default="citation", init=False)
    item_id: str
    output_index: int
    annotation: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    type: Literal["usage"] = field(default="usage", init=False)
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class ResponseEnded:
    """A backend's last event for a turn: how the response ended and its final output items. The thread
    records it and emits the public `TurnEnded` in its place."""

    type: Literal["response.ended"] = field(default="response.ended", init=False)
    status: str  # completed | incomplete | failed
    items: list[dict[str, Any]]
    error: str | None = None
    incomplete_reason: str | None = None


TerminalType = Literal["turn.completed", "turn.incomplete", "turn.failed", "turn.cancelled"]


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The one terminal event of a turn. `type` is turn.completed, turn.incomplete, turn.failed or
    turn.cancelled, matching `turn.status`."""

    turn: Turn
    type: TerminalType = field(default="turn.completed")


Event = (
    TurnStarted
    | ConversationCreated
    | StateRebuilt
    | ContainerReplaced
    | ToolsUnavailable
    | ResponseStarted
    | TextDelta
    | ItemAdded
    | ItemDone
    | ToolCallProgress
    | FunctionResult
    | Citation
    | Usage
    | ResponseEnded
    | TurnEnded
)

TERMINAL_TYPE_OF_STATUS: dict[str, TerminalType] = {
    "completed": "turn.completed",
    "incomplete": "turn.incomplete",
    "failed": "turn.failed",
    "cancelled": "turn.cancelled",
}
