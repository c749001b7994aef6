"""Input items as the server stores and lists them.

The API accepts loose shapes (a bare string, `{role, content: "text"}`, content parts without ids) but lists items
back in one canonical shape: a `message` item with an id, a status and typed content parts. Conversations, stored
response inputs and the engines all work on the canonical shape, so every loose form is normalized once, here.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, invalid_type, invalid_value
from .ids import new_id

Item = dict[str, Any]

_ROLES = ["user", "assistant", "system", "developer"]

# Id prefixes the real API uses for items of each type (openai-api.md 1.2).
_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "web_search_call": "ws",
    "file_search_call": "fs",
    "code_interpreter_call": "ci",
}


def normalize_input(value: Any, param: str = "input") -> list[Item]:
    """The request's `input` (a string or a list of items) as canonical items with ids."""
    if isinstance(value, str):
        return [user_message(value)]
    if not isinstance(value, list):
        raise invalid_type(param, "one of a string or array of input items", value)
    return [normalize_item(item, f"{param}[{index}]") for index, item in enumerate(value)]


def normalize_item(raw: Any, param: str) -> Item:
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    item = copy.deepcopy(raw)
    item_type = item.get("type") or ("message" if "role" in item else None)
    if item_type is None:
        raise ApiError(400, f"Missing required parameter: '{param}.type'.", param=f"{param}.type",
                       code="missing_required_parameter")
    item["type"] = item_type
    if item_type == "message":
        return _normalize_message(item, param)
    if item_type == "item_reference":
        # Resolving references needs the store; the runner does it. Keep the reference as sent.
        return item
    item.setdefault("id", new_id(_ID_PREFIXES.get(item_type, "item")))
    item.setdefault("status", "completed")
    return item


def _normalize_message(item: Item, param: str) -> Item:
    role = item.get("role")
    if role is None:
        raise ApiError(400, f"Missing required parameter: '{param}.role'.", param=f"{param}.role",
                       code="missing_required_parameter")
    if role not in _ROLES:
        raise invalid_value(f"{param}.role", role, _ROLES)
    content = item.get("content")
    text_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        parts: list[dict[str, Any]] = [{"type": text_type, "text": content}]
    elif isinstance(content, list):
        parts = [dict(part) if isinstance(part, dict) else {"type": text_type, "text": str(part)} for part in content]
    else:
        raise invalid_type(f"{param}.content", "one of a string or array of content parts", content)
    for part in parts:
        if role == "assistant" and part.get("type") in ("input_text", "text"):
            part["type"] = "output_text"
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
    normalized: Item = {
        "id": item.get("id") or new_id("msg"),
        "type": "message",
        "status": item.get("status") or "completed",
        "role": role,
        "content": parts,
    }
    if role == "assistant" and item.get("phase"):
        normalized["phase"] = item["phase"]
    return normalized


def user_message(text: str) -> Item:
    return {
        "id": new_id("msg"),
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def item_text(item: Item) -> str:
    """The plain text an item contributes to the prompt (used for token counts and by text engines)."""
    if item.get("type") == "message":
        texts = []
        for part in item.get("content") or []:
            for key in ("text", "refusal"):
                if isinstance(part.get(key), str):
                    texts.append(part[key])
        return "\n".join(texts)
    if item.get("type") == "function_call":
        return f"{item.get('name', '')}({item.get('arguments', '')})"
    if item.get("type") == "function_call_output":
        output = item.get("output")
        return output if isinstance(output, str) else str(output)
    return ""
