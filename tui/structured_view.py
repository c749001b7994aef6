"""Structured answers (a turn asked with `schema=`) shown as formatted JSON rather than as prose."""

from __future__ import annotations

import json
from typing import Any

from assistant import Turn


def structured_markdown(turn: Turn) -> str | None:
    """The answer as an indented JSON block when the turn asked for a structured answer and got valid JSON;
    None otherwise (the answer is shown as it came)."""
    if not turn.output_format:
        return None
    try:
        value: Any = json.loads(turn.text)
    except ValueError:
        return None
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"


def function_outputs(turn: Turn) -> dict[str, dict[str, Any]]:
    """What each function call of a recorded turn got back (its `function_call_output` item), by call id."""
    return {
        item.data["call_id"]: {"output": item.data.get("output")}
        for item in turn.items
        if item.type == "function_call_output"
    }
