"""Structured outputs for text engines: turn the engine's answer into JSON that honours `response_format`.

The local engines write prose. When a request asks for JSON (`json_object`, or `json_schema`), the server
builds the smallest document that satisfies the request and carries the answer in it: for `json_object`,
`{"answer": text}`; for a schema, every required property gets a value (strings get the answer text, enums
their first value, numbers their minimum or 0, ...). The result is validated against the schema; when no such
document can be built (a pattern the text does not match, a `not`, an impossible combination), the request
fails with `UnsatisfiableFormat` rather than returning output that breaks the schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MAX_DEPTH = 32


class UnsatisfiableFormat(ValueError):
    """No document satisfying the requested format could be built from the engine's answer."""


def json_output(text: str, response_format: dict[str, Any]) -> str:
    """The answer as JSON text in the requested format (`json_object` or `json_schema`)."""
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": text})
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") or {"type": "object"}
    try:
        # Only schema output needs it; jsonschema is not (yet) a runtime dependency of the package.
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError
    except ImportError:
        raise UnsatisfiableFormat("json_schema output needs the jsonschema package on the server") from None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise UnsatisfiableFormat(f"the JSON schema is invalid: {error.message}") from None
    validator = Draft202012Validator(schema)
    document = _instance(schema, schema, text, depth=0)
    problems = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    if problems:
        where = "/".join(str(p) for p in problems[0].path) or "the document"
        raise UnsatisfiableFormat(
            f"the local engine's answer cannot satisfy the schema at {where}: {problems[0].message}"
        )
    return json.dumps(document)


def check_format(response_format: dict[str, Any]) -> str | None:
    """What is wrong with a `json_schema` format's schema itself (not with any answer), or None."""
    if response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return error.message
    return None


_PIECES = re.compile(r"\S+\s*")


def within_limit(text: str, limit: int | None) -> tuple[str, int, bool]:
    """(the longest word-prefix of `text` within `limit` tokens, its token count, whether it was cut)."""
    from .engines.tokenizer import count_tokens

    kept: list[str] = []
    produced = 0
    for word in _PIECES.findall(text):
        cost = count_tokens(word)
        if limit is not None and produced + cost > limit:
            return "".join(kept), produced, True
        kept.append(word)
        produced += cost
    return text, produced, False


def _instance(schema: Any, root: dict[str, Any], text: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise UnsatisfiableFormat("the JSON schema nests too deeply (or recursively requires itself)")
    if not isinstance(schema, dict):
        return text  # `true` (anything goes)
    if "$ref" in schema:
        return _instance(_resolve(schema["$ref"], root), root, text, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for keyword in ("anyOf", "oneOf"):
        if schema.get(keyword):
            return _instance(schema[keyword][0], root, text, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part["$ref"], root) if isinstance(part, dict) and "$ref" in part else part)
        return _instance(merged, root, text, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        return {name: _instance(properties.get(name, {}), root, text, depth + 1) for name in required}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [_instance(schema.get("items", {}), root, text, depth + 1) for _ in range(count)]
    if kind == "string":
        return text
    if kind in ("integer", "number"):
        value = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1 if "exclusiveMinimum" in schema else 0)
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    raise UnsatisfiableFormat(f"unknown JSON schema type {kind!r}")


def _resolve(reference: str, root: dict[str, Any]) -> Any:
    if not reference.startswith("#/"):
        raise UnsatisfiableFormat(f"only local $refs are supported, not {reference!r}")
    node: Any = root
    for key in reference[2:].split("/"):
        if not isinstance(node, dict) or key not in node:
            raise UnsatisfiableFormat(f"the $ref {reference!r} does not resolve")
        node = node[key]
    return node
