"""Your own tools: Python callables the model may call, and the running of its calls.

A `FunctionTool` is a callable plus what the model is told about it: its name, the first paragraph of its
docstring as the description, and a JSON schema of its parameters derived from the type hints (pydantic models,
dataclasses, `Literal`, `list[int]`... anything pydantic can describe). The schema is strict (every property
required, no extra properties) when every parameter is required and pydantic's schema fits the API's strict
subset; otherwise it is sent with `strict: false` and defaults are left to Python.

Running a call never raises: bad arguments, an exception in the function, a denied approval or an unknown name
all become an output the model reads (`error: ...`), so the model can recover or explain, and the turn goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import pydantic

# What an approval callback receives and may answer: True to run, False (or a string: the reason) to deny.
Approver = Callable[["FunctionCall"], Any]


@dataclass(frozen=True)
class FunctionCall:
    """A call the model asked for: `arguments` is its JSON text as sent, `parsed` the decoded object."""

    call_id: str
    name: str
    arguments: str
    item_id: str | None = None

    @property
    def parsed(self) -> Any:
        try:
            return json.loads(self.arguments or "{}")
        except ValueError:
            return None


@dataclass(frozen=True)
class FunctionOutcome:
    """What running one call gave: the output text the model will read, and how it went."""

    call: FunctionCall
    output: str
    duration_ms: float
    error: str | None = None  # the exception or refusal, when the call did not return normally
    approved: bool | None = None  # None when the function needs no approval

    def output_item(self) -> dict[str, Any]:
        return {"type": "function_call_output", "call_id": self.call.call_id, "output": self.output}


@dataclass(frozen=True)
class FunctionTool:
    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool
    function: Callable[..., Any]
    requires_approval: bool = False
    arguments_model: type[pydantic.BaseModel] | None = field(default=None, repr=False)

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    def api_param(self) -> dict[str, Any]:
        """The Responses API function tool param (the Chat backend translates it)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": self.strict,
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # a decorated function stays callable
        return self.function(*args, **kwargs)

    def bind(self, arguments: str) -> dict[str, Any]:
        """Keyword arguments for the function from the model's JSON text, validated (and coerced: a nested
        pydantic model arrives as an instance) against the type hints. Raises ValueError on bad arguments."""
        try:
            data = json.loads(arguments or "{}")
        except ValueError as error:
            raise ValueError(f"the arguments are not JSON: {error}") from None
        if not isinstance(data, dict):
            raise ValueError("the arguments must be a JSON object")
        if self.arguments_model is None:
            return data
        try:
            validated = self.arguments_model.model_validate(data)
        except pydantic.ValidationError as error:
            raise ValueError(f"invalid arguments: {_short_validation(error)}") from None
        return {
            name: getattr(validated, name)
            for name in self.arguments_model.model_fields
            if name in data
            or self.arguments_model.model_fields[name].is_required()
            or getattr(validated, name) is not None
        }


def function_tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
    requires_approval: bool = False,
) -> Any:
    """Describe a callable as a tool. Use bare (`@function_tool`), with options
    (`@function_tool(requires_approval=True)`) or as a call (`function_tool(get_weather, name="weather")`)."""

    def build(target: Callable[..., Any]) -> FunctionTool:
        if isinstance(target, FunctionTool):
            return target
        parameters, model, fits_strict = parameters_schema(target)
        use_strict = fits_strict if strict is None else strict and fits_strict
        if use_strict:
            parameters = strict_schema(parameters)
        return FunctionTool(
            name=name or target.__name__,
            description=description if description is not None else _docstring_summary(target),
            parameters=parameters,
            strict=use_strict,
            function=target,
            requires_approval=requires_approval,
            arguments_model=model,
        )

    return build(function) if function is not None else build


def as_tools(functions: Iterable[Any] | None) -> dict[str, FunctionTool]:
    """Callables or FunctionTools, by name (a later one of the same name wins)."""
    tools: dict[str, FunctionTool] = {}
    for item in functions or []:
        if not callable(item):
            raise TypeError(f"{item!r} is not callable: pass functions (or @function_tool ones) as functions=")
        tool = function_tool(item)
        tools[tool.name] = tool
    return tools


# -- schemas -------------------------------------------------------------------------------------------------------


def parameters_schema(function: Callable[..., Any]) -> tuple[dict[str, Any], type[pydantic.BaseModel], bool]:
    """(JSON schema of the parameters, a pydantic model that validates them, whether it can be strict)."""
    signature = inspect.signature(function)
    try:
        hints = get_type_hints(function)
    except Exception:  # unresolvable forward references: describe what we can
        hints = {}
    fields: dict[str, Any] = {}
    all_required = True
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(parameter.name, Any)
        if parameter.default is inspect.Parameter.empty:
            fields[parameter.name] = (annotation, ...)
        else:
            all_required = False
            fields[parameter.name] = (annotation, parameter.default)
    model = pydantic.create_model(f"{function.__name__}_arguments", **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in (schema.get("properties") or {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    schema["additionalProperties"] = False
    return schema, model, all_required and _fits_strict(schema)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the API's strict form: every object closed, every property required."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(child) for child in node]
        if not isinstance(node, dict):
            return node
        node = {key: walk(value) for key, value in node.items()}
        if node.get("type") == "object" or "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list((node.get("properties") or {}).keys())
        return node

    strict: dict[str, Any] = walk(schema)
    return strict


_UNSUPPORTED_IN_STRICT = {"default", "minLength", "maxLength", "format"}


def _fits_strict(schema: Any) -> bool:
    """Whether strict mode can express the schema: no free-form objects (dict[str, X]) and no defaults."""
    if isinstance(schema, list):
        return all(_fits_strict(child) for child in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" and "properties" not in schema:
        return False
    if isinstance(schema.get("additionalProperties"), dict):
        return False
    if _UNSUPPORTED_IN_STRICT & schema.keys() and "properties" not in schema:
        return False
    return all(_fits_strict(value) for key, value in schema.items() if key not in ("required", "enum", "const"))


def _docstring_summary(function: Callable[..., Any]) -> str:
    doc = inspect.getdoc(function) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _short_validation(error: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in error.errors()[:5])


# -- running calls -------------------------------------------------------------------------------------------------


def output_text(value: Any) -> str:
    """A function's return value as the text the model reads."""
    if isinstance(value, str):
        return value
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(pydantic.TypeAdapter(type(value)).dump_python(value, mode="json"), ensure_ascii=False)
    except Exception:
        return str(value)


def _unknown(call: FunctionCall, tools: dict[str, FunctionTool]) -> FunctionOutcome:
    known = ", ".join(sorted(tools)) or "none"
    message = f"there is no function named {call.name!r} (available: {known})"
    return FunctionOutcome(call=call, output=f"error: {message}", duration_ms=0.0, error=message)


def _denied(call: FunctionCall, answer: Any) -> FunctionOutcome:
    reason = answer if isinstance(answer, str) and answer else "the user did not approve this call"
    return FunctionOutcome(
        call=call,
        output=f"error: not run: {reason}. Do not retry it; answer without it.",
        duration_ms=0.0,
        error=f"denied: {reason}",
        approved=False,
    )


def _decide(call: FunctionCall, tools: dict[str, FunctionTool], answer: Any) -> FunctionOutcome | None:
    """An outcome when the call must not run (unknown, or denied), None to run it."""
    if call.name not in tools:
        return _unknown(call, tools)
    if tools[call.name].requires_approval and answer is not True:
        return _denied(call, answer)
    return None


def _ask(call: FunctionCall, tools: dict[str, FunctionTool], approve: Approver | None) -> Any:
    """The approval answer for a call (True when it needs none); may be awaitable (an async callback)."""
    if call.name not in tools or not tools[call.name].requires_approval:
        return True
    return approve(call) if approve is not None else "no approval callback was given"


@dataclass(frozen=True)
class _Running:
    """An approved call whose arguments are bound and whose clock has started: how it ends becomes its outcome.
    The sync and async runners differ only in how they call the function between the two."""

    call: FunctionCall
    tool: FunctionTool
    kwargs: dict[str, Any]
    started: float

    @staticmethod
    def start(call: FunctionCall, tool: FunctionTool) -> _Running | FunctionOutcome:
        """The call ready to run, or the outcome of arguments that do not bind."""
        started = time.perf_counter()
        try:
            return _Running(call, tool, tool.bind(call.arguments), started)
        except ValueError as error:
            return _Running(call, tool, {}, started).failed(str(error))

    @property
    def approved(self) -> bool | None:
        return True if self.tool.requires_approval else None

    def failed(self, message: str) -> FunctionOutcome:
        return FunctionOutcome(
            call=self.call,
            output=f"error: {message}",
            duration_ms=(time.perf_counter() - self.started) * 1000,
            error=message,
            approved=self.approved,
        )

    def raised(self, error: Exception) -> FunctionOutcome:
        return self.failed(f"{type(error).__name__}: {error}")

    def returned(self, value: Any) -> FunctionOutcome:
        return FunctionOutcome(
            call=self.call,
            output=output_text(value),
            duration_ms=(time.perf_counter() - self.started) * 1000,
            approved=self.approved,
        )


def _run_approved(call: FunctionCall, tool: FunctionTool) -> FunctionOutcome:
    running = _Running.start(call, tool)
    if isinstance(running, FunctionOutcome):
        return running
    try:
        value = tool.function(**running.kwargs)
        if inspect.isawaitable(value):
            value = asyncio.run(_awaited(value))
    except Exception as error:
        return running.raised(error)
    return running.returned(value)


async def _arun_approved(call: FunctionCall, tool: FunctionTool) -> FunctionOutcome:
    running = _Running.start(call, tool)
    if isinstance(running, FunctionOutcome):
        return running
    try:
        if tool.is_async:
            value = await tool.function(**running.kwargs)
        else:  # a blocking function must not stall the event loop (the TUI, other turns)
            value = await asyncio.to_thread(tool.function, **running.kwargs)
            if inspect.isawaitable(value):
                value = await value
    except Exception as error:
        return running.raised(error)
    return running.returned(value)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _in_order(
    calls: Sequence[FunctionCall], decided: list[FunctionOutcome | None], ran: list[FunctionOutcome]
) -> list[FunctionOutcome]:
    """Every call's outcome in the order the model asked: the decided ones, and the others as they ran."""
    outcomes = iter(ran)
    return [outcome or next(outcomes) for outcome in decided]


def run_calls(
    calls: Sequence[FunctionCall], tools: dict[str, FunctionTool], approve: Approver | None
) -> list[FunctionOutcome]:
    """Run the calls of one response, concurrently when there are several (the model asked for them in
    parallel). Approvals are asked first, one at a time and in order; an async function runs on its own loop."""
    decided: list[FunctionOutcome | None] = []
    for call in calls:
        answer = _ask(call, tools, approve)
        if inspect.isawaitable(answer):
            answer = asyncio.run(_awaited(answer))
        decided.append(_decide(call, tools, answer))
    runnable = [call for call, outcome in zip(calls, decided, strict=True) if outcome is None]
    if len(runnable) > 1:
        with ThreadPoolExecutor(max_workers=min(8, len(runnable))) as pool:
            ran = list(pool.map(lambda call: _run_approved(call, tools[call.name]), runnable))
    else:
        ran = [_run_approved(call, tools[call.name]) for call in runnable]
    return _in_order(calls, decided, ran)


async def arun_calls(
    calls: Sequence[FunctionCall], tools: dict[str, FunctionTool], approve: Approver | None
) -> list[FunctionOutcome]:
    """`run_calls` with awaits: async functions are awaited together, sync ones run in worker threads; the
    approval callback may be a coroutine (a dialog)."""
    decided: list[FunctionOutcome | None] = []
    for call in calls:
        answer = _ask(call, tools, approve)
        if inspect.isawaitable(answer):
            answer = await answer
        decided.append(_decide(call, tools, answer))
    runnable = [call for call, outcome in zip(calls, decided, strict=True) if outcome is None]
    ran = await asyncio.gather(*(_arun_approved(call, tools[call.name]) for call in runnable))
    return _in_order(calls, decided, list(ran))
