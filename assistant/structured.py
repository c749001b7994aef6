"""Structured answers: ask for JSON that follows a schema, and read it back as data.

`t.ask(..., schema=MyModel)` (a pydantic model class) or `schema={...}` (a JSON schema, or a whole
`{"type": "json_schema", "name", "schema", "strict"}` format) sends `text.format` on the Responses API and
`response_format` on Chat Completions. The answer's JSON text is stored as the turn's text (the index keeps it
like any answer) and the format sent is kept on the turn, so the parsed value can be rebuilt later
(`Turn.parsed` is the JSON value read back from the index; the turn an `ask` returns carries the pydantic
instance). An answer that is a refusal, is not JSON, or does not validate raises `StructuredAnswerError`: it is
never handed back as if it were the data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pydantic

from assistant.errors import StructuredAnswerError

_NAME = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True)
class AnswerSchema:
    """What a turn asked for: the API format, and how to validate the answer in Python."""

    format: dict[str, Any]  # Responses `text.format`
    model: type[pydantic.BaseModel] | None = None

    @property
    def json_schema(self) -> dict[str, Any]:
        return self.format.get("schema") or {}


def answer_schema(schema: Any) -> AnswerSchema:
    """An AnswerSchema from a pydantic model class, a JSON schema dict, or a full json_schema format dict."""
    if isinstance(schema, AnswerSchema):
        return schema
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        try:
            from openai.lib._pydantic import to_strict_json_schema

            strict = to_strict_json_schema(schema)
        except Exception:  # the helper is the SDK's own (responses.parse uses it); fall back to pydantic's
            strict = schema.model_json_schema()
        return AnswerSchema(
            format={"type": "json_schema", "name": _name(schema.__name__), "schema": strict, "strict": True},
            model=schema,
        )
    if isinstance(schema, dict):
        if schema.get("type") == "json_schema" and isinstance(schema.get("schema"), dict):
            return AnswerSchema(format={"name": "answer", **schema})
        if schema.get("type") == "json_object":
            return AnswerSchema(format={"type": "json_object"})
        return AnswerSchema(
            format={
                "type": "json_schema",
                "name": _name(str(schema.get("title") or "answer")),
                "schema": schema,
                "strict": strict_fits(schema),
            }
        )
    raise TypeError("schema= takes a pydantic model class or a JSON schema dict")


def _name(text: str) -> str:
    return _NAME.sub("_", text)[:64] or "answer"


def strict_fits(schema: Any) -> bool:
    """Whether a hand-written schema already meets strict mode: every object closed, every property required."""
    if isinstance(schema, list):
        return all(strict_fits(child) for child in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or []) != set(properties):
            return False
    return all(strict_fits(value) for key, value in schema.items() if key not in ("required", "enum", "const"))


def final_message(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    for item in items[::-1]:  # not reversed(): mypy reads reversed() of dicts holding Any as Any
        if item.get("type") == "message" and item.get("role", "assistant") == "assistant":
            return item
    return None


def parse_answer(items: list[dict[str, Any]], schema: AnswerSchema, *, turn: Any = None) -> Any:
    """The answer of a turn's last message as data. Raises StructuredAnswerError for a refusal, text that is
    not JSON, or JSON that does not validate (against the pydantic model, else the JSON schema)."""
    message = final_message(items)
    parts = (message or {}).get("content") or []
    refusal = "".join(part.get("refusal") or "" for part in parts if part.get("type") == "refusal")
    if refusal:
        raise StructuredAnswerError(
            f"The model refused to answer in the requested format: {refusal}", turn=turn, refusal=refusal
        )
    text = "".join(part.get("text") or "" for part in parts if part.get("type") == "output_text")
    if message is None or not text.strip():
        raise StructuredAnswerError(
            "The model gave no answer to parse as structured data.", turn=turn, problem="no answer"
        )
    if schema.model is not None:
        try:
            return schema.model.model_validate_json(text)
        except pydantic.ValidationError as error:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in error.errors()[:5]
            )
            raise StructuredAnswerError(
                f"The answer does not match {schema.model.__name__}: {problem}. It was: {_short(text)}",
                turn=turn,
                problem=problem,
            ) from None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise StructuredAnswerError(
            f"The answer is not JSON ({error}). It was: {_short(text)}", turn=turn, problem=str(error)
        ) from None
    if schema.format.get("type") == "json_schema":
        mismatch = schema_problem(value, schema.json_schema)
        if mismatch:
            raise StructuredAnswerError(
                f"The answer does not match the schema: {mismatch}. It was: {_short(text)}", turn=turn, problem=mismatch
            )
    return value


def schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return None
    where = "/".join(str(p) for p in errors[0].path) or "the answer"
    return f"at {where}: {errors[0].message}"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
