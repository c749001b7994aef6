"""What a finished (or interrupted) turn looks like to library users: read back from the index."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from assistant.events import Usage

TurnStatus = Literal["in_progress", "completed", "incomplete", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class Item:
    """One input or output item of a turn, as JSON on the wire (`data`)."""

    direction: Literal["input", "output"]
    type: str
    item_id: str | None
    status: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Turn:
    id: int
    thread_id: str
    seq: int  # 1-based position in the thread
    status: TurnStatus
    input: str
    text: str
    model: str
    backend: str
    response_id: str | None = None
    previous_response_id: str | None = None
    conversation_id: str | None = None
    usage: Usage = field(default_factory=Usage)
    items: list[Item] = field(default_factory=list)
    error: str | None = None
    incomplete_reason: str | None = None
    request_bytes: int = 0
    ttft_ms: float | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    # A structured answer (`schema=`): the format asked for (`text.format`) and the answer as data (the
    # pydantic instance on the turn `ask` returns; the JSON value when read back from the index).
    output_format: dict[str, Any] | None = None
    rounds: int = 1  # model requests in the turn (more than 1 when the model called your functions)
    parsed: Any = None

    @property
    def output_items(self) -> list[Item]:
        return [item for item in self.items if item.direction == "output"]

    @property
    def input_items(self) -> list[Item]:
        return [item for item in self.items if item.direction == "input"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `--json` output and exports)."""
        data = asdict(self)
        del data["usage"]["type"]  # the event's tag says nothing in a turn's JSON
        data["usage"]["total_tokens"] = self.usage.total_tokens
        if hasattr(self.parsed, "model_dump"):  # a pydantic instance: its JSON form
            data["parsed"] = self.parsed.model_dump(mode="json")
        for key in ("created_at", "completed_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data
