"""The engine interface: what the "model" says.

The server owns the protocol (ids, state, events, storage); an engine only turns a prompt into output. An engine
receives the whole prompt the server resolved (conversation items or the previous_response_id chain, then the new
input) and yields typed steps:

- `TextDelta`: visible text, streamed as it is produced;
- `Annotation`: a citation on the text so far (the answer that quotes a tool result cites it);
- `ToolCall`: the model wants a tool. For a function tool the server ends the response with a `function_call`
  item; for a hosted tool (web/file search, code interpreter) the server runs the tool, appends the call and its
  result to the prompt and calls `generate` again, so the engine writes its answer from the tool results;
- `Finish`: exactly once, last: usage and why generation stopped.

Engines are synchronous iterators because the real ones block (llama.cpp decoding, an upstream HTTP call); the
server runs them off the event loop. `generate` is called on worker threads, so an engine must be thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias


@dataclass(frozen=True)
class GenerationOptions:
    max_output_tokens: int | None = None  # visible + reasoning tokens together, as in the real API
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None
    tools: Sequence[Mapping[str, Any]] = ()
    tool_choice: Any = "auto"
    prompt_cache_key: str | None = None


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    instructions: str | None
    # Canonical items (see assistant.server.items): conversation or chain history first, then the new input.
    input_items: Sequence[Mapping[str, Any]]
    options: GenerationOptions = field(default_factory=GenerationOptions)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Annotation:
    """A citation on the text produced so far (url_citation, file_citation, container_file_citation), in the
    API's shape; its indexes count characters of this response's message text. Streamed as
    `response.output_text.annotation.added` right where the engine yields it."""

    annotation: Mapping[str, Any]


@dataclass(frozen=True)
class ToolCall:
    kind: Literal["function", "web_search", "file_search", "code_interpreter"]
    name: str  # the function name; the tool type for hosted tools
    arguments: str  # JSON text, as the API carries it


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0  # prefix of the prompt served from the (engine's) prompt cache
    reasoning_tokens: int = 0  # included in output_tokens, as in the real API


StopReason: TypeAlias = Literal["stop", "max_output_tokens", "tool_calls"]


@dataclass(frozen=True)
class Finish:
    usage: Usage
    reason: StopReason = "stop"


EngineStep: TypeAlias = TextDelta | Annotation | ToolCall | Finish


class Engine(Protocol):
    """Decides what the model says. `generate` yields steps and ends with exactly one `Finish`."""

    def generate(self, request: GenerationRequest) -> Iterator[EngineStep]: ...
