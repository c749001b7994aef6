"""Input items as the server stores and lists them.

The API accepts loose shapes (a bare string, `{role, content: "text"}`, content parts without ids) but lists items
back in one canonical shape: a `message` item with an id, a status and typed content parts. Conversations, stored
response inputs and the engines all work on the canonical shape, so every loose form is normalized once, here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .error_responses import ApiError, invalid_type, invalid_value, missing_parameter
from .ids import new_id

Item = dict[str, Any]

_ROLES = ["user", "assistant", "system", "developer"]
_MESSAGE_STATUSES = ["in_progress", "completed", "incomplete"]
_MESSAGE_PHASES = ["commentary", "final_answer"]
# The field each text-like content part carries its text in (spec: InputTextContent, RefusalContent, ...).
_CONTENT_FIELDS = {
    "input_text": "text",
    "output_text": "text",
    "text": "text",
    "summary_text": "text",
    "reasoning_text": "text",
    "refusal": "refusal",
}
# The part types a listed message may hold (spec: Message.content).
_CONTENT_TYPES = [*_CONTENT_FIELDS, "input_image", "input_file", "computer_screenshot"]

# Id prefixes the real API uses for items of each type (as in the recordings in tests/recordings/).
_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "web_search_call": "ws",
    "file_search_call": "fs",
    "code_interpreter_call": "ci",
}

# Fields an item of these types cannot do without.
_REQUIRED_STRINGS = {
    "function_call": ("call_id", "name", "arguments"),
    "function_call_output": ("call_id",),
}

# The statuses a tool-call item may carry (spec: FunctionCallItemStatus, WebSearchToolCall, FileSearchToolCall,
# CodeInterpreterToolCall); the listed item repeats it, so an unknown one would be echoed into a bad object.
_STATUSES = {
    "function_call": ["in_progress", "completed", "incomplete"],
    "function_call_output": ["in_progress", "completed", "incomplete"],
    "web_search_call": ["in_progress", "searching", "completed", "failed"],
    "file_search_call": ["in_progress", "searching", "completed", "incomplete", "failed"],
    "code_interpreter_call": ["in_progress", "completed", "incomplete", "interpreting", "failed"],
}

# Optional fields the input params allow as null, while the listed item has them as strings or leaves them out:
# the API lists a function call without them (no recorded function call item has a `caller`).
_OPTIONAL_FIELDS = {
    "function_call": ("namespace", "caller"),
    "function_call_output": ("name", "namespace", "caller"),
}
_CALLER_TYPES = ["direct", "program"]
_WEB_SEARCH_ACTIONS = ["search", "open_page", "find_in_page"]
_CODE_OUTPUT_TYPES = ["logs", "image"]


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
        raise ApiError(
            400,
            f"Missing required parameter: '{param}.type'.",
            param=f"{param}.type",
            code="missing_required_parameter",
        )
    if not isinstance(item_type, str):  # it keys the id prefix table: a list would be a TypeError there
        raise invalid_type(f"{param}.type", "a string", item_type)
    item["type"] = item_type
    if item_type == "message":
        return _normalize_message(item, param)
    if item_type == "item_reference":
        # Resolving references needs the store; the runner does it. Keep the reference as sent.
        return item
    for key in _REQUIRED_STRINGS.get(item_type, ()):  # what the engines read to pair calls with outputs
        if item.get(key) is None:
            raise ApiError(
                400,
                f"Missing required parameter: '{param}.{key}'.",
                param=f"{param}.{key}",
                code="missing_required_parameter",
            )
        if not isinstance(item[key], str):
            raise invalid_type(f"{param}.{key}", "a string", item[key])
    if item_type == "function_call_output" and not isinstance(item.get("output"), (str, list)):
        raise invalid_type(f"{param}.output", "a string or an array of content parts", item.get("output"))
    if "id" in item and not isinstance(item["id"], str):  # it is a key in the store; anything else breaks it
        raise invalid_type(f"{param}.id", "a string", item["id"])
    item.setdefault("id", new_id(_ID_PREFIXES.get(item_type, "item")))
    if item.get("status") is None:  # input params may send `status: null`; a listed item always has one
        item["status"] = "completed"
    if item_type in _STATUSES and item["status"] not in _STATUSES[item_type]:
        raise invalid_value(f"{param}.status", item["status"], _STATUSES[item_type])
    for key in _OPTIONAL_FIELDS.get(item_type, ()):
        _check_optional_field(item, key, param)
    _check_hosted_tool_call(item, param)
    return item


def _check_optional_field(item: Item, key: str, param: str) -> None:
    if key != "caller":
        _string(item, key, param)
    elif caller := _object(item, key, param, fields=("type",)):
        if caller["type"] not in _CALLER_TYPES:
            raise invalid_value(f"{param}.caller.type", caller["type"], _CALLER_TYPES)
        if caller["type"] == "program":
            _string(caller, "caller_id", f"{param}.caller", required=True)


def _check_hosted_tool_call(item: Item, param: str) -> None:
    """A replayed hosted tool call (the output of an earlier response, sent back as input) in the shape the spec
    gives it: the engines quote these fields in their answer, so a wrong type is the client's 400 here rather
    than a failed response later."""
    kind = item["type"]
    if kind == "web_search_call":
        action = _object(item, "action", param, required=True, fields=("type",))
        where = f"{param}.action"
        if action["type"] not in _WEB_SEARCH_ACTIONS:
            raise invalid_value(f"{where}.type", action["type"], _WEB_SEARCH_ACTIONS)
        _string(action, "query", where)
        _strings(action, "queries", where)
        _string(action, "url", where, required=action["type"] == "find_in_page")
        _string(action, "pattern", where, required=action["type"] == "find_in_page")
        for index, source in enumerate(_objects(action, "sources", where)):
            if source.get("type") != "url":
                raise invalid_value(f"{where}.sources[{index}].type", source.get("type"), ["url"])
            _string(source, "url", f"{where}.sources[{index}]", required=True)
    elif kind == "file_search_call":
        _strings(item, "queries", param, required=True)
        for index, result in enumerate(_objects(item, "results", param, nullable=True)):
            where = f"{param}.results[{index}]"
            for key in ("file_id", "filename", "text"):
                _string(result, key, where)
            _object(result, "attributes", where, nullable=True)
            score = result.get("score")
            if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
                raise invalid_type(f"{where}.score", "a number", score)
    elif kind == "code_interpreter_call":
        _string(item, "container_id", param, required=True)
        _required_key(item, "code", param)  # required, but null when not available
        _string(item, "code", param, nullable=True)
        _required_key(item, "outputs", param)
        for index, output in enumerate(_objects(item, "outputs", param, nullable=True)):
            where = f"{param}.outputs[{index}]"
            if output.get("type") not in _CODE_OUTPUT_TYPES:
                raise invalid_value(f"{where}.type", output.get("type"), _CODE_OUTPUT_TYPES)
            _string(output, "logs" if output["type"] == "logs" else "url", where, required=True)


# Field checks for `_check_hosted_tool_call`: `parent[key]` must be absent or of the type named. An optional
# field sent as null is left out, as the API lists it; `nullable` ones (the spec's `anyOf: [..., null]`) stay.


def _required_key(parent: Item, key: str, param: str) -> None:
    if key not in parent:
        raise missing_parameter(f"{param}.{key}")


def _present(parent: Item, key: str, param: str, required: bool, nullable: bool) -> bool:
    if parent.get(key) is not None:
        return True
    if required:
        raise missing_parameter(f"{param}.{key}")
    if not nullable:
        parent.pop(key, None)
    return False


def _string(parent: Item, key: str, param: str, *, required: bool = False, nullable: bool = False) -> None:
    if _present(parent, key, param, required, nullable) and not isinstance(parent[key], str):
        raise invalid_type(f"{param}.{key}", "a string", parent[key])


def _strings(parent: Item, key: str, param: str, *, required: bool = False) -> None:
    if _present(parent, key, param, required, False) and not (
        isinstance(parent[key], list) and all(isinstance(value, str) for value in parent[key])
    ):
        raise invalid_type(f"{param}.{key}", "an array of strings", parent[key])


def _object(
    parent: Item, key: str, param: str, *, required: bool = False, nullable: bool = False, fields: tuple[str, ...] = ()
) -> Item:
    """`parent[key]` as an object with its required `fields` set ({} when it is absent and may be)."""
    if not _present(parent, key, param, required, nullable):
        return {}
    value = parent[key]
    if not isinstance(value, dict):
        raise invalid_type(f"{param}.{key}", "an object", value)
    for field in fields:
        if value.get(field) is None:
            raise missing_parameter(f"{param}.{key}.{field}")
    return value


def _objects(parent: Item, key: str, param: str, *, nullable: bool = False) -> list[Item]:
    if not _present(parent, key, param, False, nullable):
        return []
    values = parent[key]
    if not isinstance(values, list):
        raise invalid_type(f"{param}.{key}", "an array of objects", values)
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            raise invalid_type(f"{param}.{key}[{index}]", "an object", value)
    return values


def _normalize_message(item: Item, param: str) -> Item:
    role = item.get("role")
    if role is None:
        raise ApiError(
            400,
            f"Missing required parameter: '{param}.role'.",
            param=f"{param}.role",
            code="missing_required_parameter",
        )
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
    for index, part in enumerate(parts):
        _check_content_part(part, f"{param}.content[{index}]")
        if role == "assistant" and part.get("type") in ("input_text", "text"):
            part["type"] = "output_text"
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
    status = item.get("status") or "completed"
    if status not in _MESSAGE_STATUSES:  # the listed message repeats it
        raise invalid_value(f"{param}.status", status, _MESSAGE_STATUSES)
    normalized: Item = {
        "id": item.get("id") or new_id("msg"),
        "type": "message",
        "status": status,
        "role": role,
        "content": parts,
    }
    if role == "assistant" and item.get("phase"):
        if item["phase"] not in _MESSAGE_PHASES:
            raise invalid_value(f"{param}.phase", item["phase"], _MESSAGE_PHASES)
        normalized["phase"] = item["phase"]
    return normalized


def _check_content_part(part: Item, param: str) -> None:
    """The field a text or refusal part is made of: the listed message repeats the part, and the engines read it."""
    kind = part.get("type")
    if not isinstance(kind, str):
        raise invalid_type(f"{param}.type", "a string", kind)
    if kind not in _CONTENT_TYPES:
        raise invalid_value(f"{param}.type", kind, _CONTENT_TYPES)
    field = _CONTENT_FIELDS.get(kind)
    if field is not None:
        _string(part, field, param, required=True)
    if kind == "output_text":
        for key in ("annotations", "logprobs"):
            if part.get(key) is not None and not isinstance(part[key], list):
                raise invalid_type(f"{param}.{key}", "an array", part[key])


def user_message(text: str) -> Item:
    return {
        "id": new_id("msg"),
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def item_text(item: Mapping[str, Any]) -> str:
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
