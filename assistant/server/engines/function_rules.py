"""How the reference engine uses your function tools: which it calls, with what arguments, and its answer.

Which (only among the request's `function` tools, never with `tool_choice: "none"`; `allowed_tools` narrows):

1. `tool_choice: {"type": "function", "name": N}` calls N (once per turn).
2. The latest user message is read clause by clause (clauses are split at "then", ";" and new lines). A function
   matches a clause when its name does: the whole name ("get_weather", or "get weather"), or one of its words
   that is not a generic verb (get, set, fetch, find, list, lookup, compute, ...: so "weather" for get_weather,
   "multiply" for multiply), singular or plural. The first clause with a function not yet called this turn wins,
   and every function it matches is called at once (parallel calls). So "weather in Paris and time in Tokyo"
   calls get_weather and get_time together; "weather in Paris, then convert 20 celsius" calls get_weather, and
   convert once its output is back: one round per clause.
3. `tool_choice: "required"` with nothing matched: the first function, once.

Arguments come from simple patterns in the clause, per parameter of the function's schema: `name: value`,
`name = value` or `name is value`; for numbers, otherwise the clause's numbers in order ("1231 * 2331" gives
a=1231, b=2331); for enums, a value the clause names (else the first); for booleans, whether the clause names the
parameter; for strings, a quoted "text", else a capitalized name after in/for/at/of/from/to/near ("in Paris"),
else the clause itself. Required parameters always get a value.

Once the turn holds outputs for its calls and nothing is left to call, the answer quotes them:
`name(arguments) returned: output` per call, or `name(arguments) failed: ...` when the output is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..items import item_text
from .engine import GenerationRequest, ToolCall

_CLAUSES = re.compile(r"\bthen\b|;|\n", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*[a-zA-Z])")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'")
_PLACE = re.compile(r"\b(?:in|for|at|of|from|to|near|about)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
GENERIC_WORDS = frozenset(
    [
        "get",
        "set",
        "fetch",
        "find",
        "list",
        "lookup",
        "look",
        "up",
        "compute",
        "calc",
        "calculate",
        "make",
        "do",
        "run",
        "call",
        "the",
        "a",
        "an",
        "to",
        "by",
        "for",
        "of",
        "and",
        "or",
        "with",
        "from",
        "current",
        "info",
        "data",
        "tool",
        "function",
        "my",
        "your",
    ]
)


def function_tools(request: GenerationRequest) -> list[Mapping[str, Any]]:
    tools = [tool for tool in request.options.tools if tool.get("type") == "function" and tool.get("name")]
    choice = request.options.tool_choice
    if isinstance(choice, Mapping) and choice.get("type") == "allowed_tools":
        allowed = {
            tool.get("name")
            for tool in choice.get("tools") or []
            if isinstance(tool, Mapping) and tool.get("type") == "function"
        }
        tools = [tool for tool in tools if tool.get("name") in allowed]
    return tools


def this_turn(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The items after the last user message."""
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if item.get("type") == "message" and item.get("role") == "user":
            return list(items[index + 1 :])
    return []


def function_calls(request: GenerationRequest) -> list[ToolCall]:
    """The function calls this request calls for (several: parallel calls), or [] to answer."""
    tools = function_tools(request)
    choice = request.options.tool_choice
    if not tools or choice == "none":
        return []
    turn = this_turn(request.input_items)
    called = {item.get("name") for item in turn if item.get("type") == "function_call"}
    text = _latest_user_text(request.input_items)
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        forced = next((tool for tool in tools if tool.get("name") == choice.get("name")), None)
        return [_call(forced, text)] if forced is not None and forced["name"] not in called else []
    for clause in (part.strip() for part in _CLAUSES.split(text)):
        if not clause:
            continue
        matched = [tool for tool in tools if matches(tool, clause) and tool["name"] not in called]
        if matched:
            return [_call(tool, clause) for tool in matched]
    required = choice == "required" or (isinstance(choice, Mapping) and choice.get("mode") == "required")
    if required and not called:
        return [_call(tools[0], text)]
    return []


def matches(tool: Mapping[str, Any], clause: str) -> bool:
    name = str(tool.get("name"))
    lowered = clause.lower()
    if name.lower() in lowered or name.lower().replace("_", " ") in lowered:
        return True
    words = set(_WORDS.findall(lowered))
    for word in name_words(name):
        if word in words or word + "s" in words or (word.endswith("s") and word[:-1] in words):
            return True
    return False


def name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [word for word in _WORDS.findall(spaced.lower()) if len(word) >= 3 and word not in GENERIC_WORDS]


def _call(tool: Mapping[str, Any], clause: str) -> ToolCall:
    schema = tool.get("parameters") or {}
    return ToolCall(kind="function", name=str(tool["name"]), arguments=json.dumps(arguments_for(schema, clause)))


def arguments_for(schema: Mapping[str, Any], clause: str) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    numbers = [_number(match) for match in _NUMBER.findall(clause)]
    places = list(_PLACE.findall(clause))
    quoted = [a or b for a, b in _QUOTED.findall(clause)]
    values: dict[str, Any] = {}
    for name, spec in properties.items():
        spec = _concrete(spec, schema)
        kind = spec.get("type")
        named = _named_value(name, clause)
        value: Any = None
        if spec.get("enum"):
            value = next((option for option in spec["enum"] if str(option).lower() in clause.lower()), spec["enum"][0])
        elif kind in ("integer", "number"):
            if named is not None and _NUMBER.fullmatch(named):
                value = _number(named)
                if value in numbers:
                    numbers.remove(value)
            elif numbers:
                value = numbers.pop(0)
            elif name in required:
                value = spec.get("minimum", 0)
            if value is not None and kind == "integer":
                value = int(value)
        elif kind == "boolean":
            value = name.replace("_", " ").lower() in clause.lower() if name in required or named else None
        elif kind == "string" or kind is None:
            if named is not None:
                value = named
            elif quoted:
                value = quoted.pop(0)
            elif places:
                value = places.pop(0)
            elif name in required:
                value = clause
        elif kind == "array" and name in required:
            value = []
        elif kind == "object" and name in required:
            value = arguments_for(spec, clause)
        if value is not None or name in required:
            values[name] = value
    return values


def _concrete(spec: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """A property's schema with a local $ref resolved and a nullable union reduced to its non-null member."""
    if not isinstance(spec, Mapping):
        return {}
    if "$ref" in spec and str(spec["$ref"]).startswith("#/"):
        node: Any = root
        for key in str(spec["$ref"])[2:].split("/"):
            node = node.get(key, {}) if isinstance(node, Mapping) else {}
        return _concrete(node, root)
    for key in ("anyOf", "oneOf"):
        options = [
            option for option in spec.get(key) or [] if isinstance(option, Mapping) and option.get("type") != "null"
        ]
        if options:
            return _concrete(options[0], root)
    if isinstance(spec.get("type"), list):
        return {**spec, "type": next((kind for kind in spec["type"] if kind != "null"), "null")}
    return spec


def _named_value(name: str, clause: str) -> str | None:
    label = re.escape(name).replace("_", "[_ ]")
    match = re.search(
        rf"\b{label}\s*(?:=|:|\bis\b)\s*(\"[^\"]*\"|'[^']*'|[^\s,;.?!]+(?:\.\d+)?)", clause, re.IGNORECASE
    )
    if match is None:
        return None
    return match.group(1).strip("\"'")


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


# -- answering from function outputs ------------------------------------------------------------------------------


def answer_from_functions(items: Sequence[Mapping[str, Any]]) -> str | None:
    """An answer quoting this turn's function outputs, or None when the turn has none."""
    turn = this_turn(items)
    calls = {item.get("call_id"): item for item in turn if item.get("type") == "function_call"}
    lines = []
    for item in turn:
        if item.get("type") != "function_call_output":
            continue
        call = calls.get(item.get("call_id"), {})
        output = item_text(item)
        signature = f"{call.get('name', 'a function')}({_compact(call.get('arguments'))})"
        if output.startswith("error:"):
            lines.append(f"- {signature} failed: {output.removeprefix('error:').strip()}")
        else:
            lines.append(f"- {signature} returned: {output}")
    if not lines:
        return None
    return "Here is what the functions returned:\n" + "\n".join(lines)


def _compact(arguments: Any) -> str:
    try:
        data = json.loads(arguments or "{}")
    except (TypeError, ValueError):
        return str(arguments or "")
    if isinstance(data, dict):
        return ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in data.items())
    return json.dumps(data, ensure_ascii=False)


def _latest_user_text(items: Sequence[Mapping[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            return item_text(item)
    return ""
