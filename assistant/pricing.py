"""Prices of OpenAI models and hosted tools, and the dollar cost of one turn.

Figures are USD, Standard tier, per 1M text tokens, as published on https://openai.com/api/pricing/.
Dated snapshots ("gpt-4.1-mini-2025-04-14") are priced as their base model. A turn a local model answered
(`model_names.LOCAL_MODELS`) costs $0, its tools too; what it would have cost on OpenAI is an estimate, and is
always labelled as one (`estimate_label`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .model_names import HOSTED_DEFAULT_MODEL, is_local_model


@dataclass(frozen=True)
class ModelPrice:
    input: float  # $ per 1M uncached input tokens
    cached_input: float  # $ per 1M cached input tokens
    output: float  # $ per 1M output tokens (reasoning tokens included)


MODEL_PRICES: dict[str, ModelPrice] = {
    "gpt-4o": ModelPrice(2.50, 1.25, 10.00),
    "gpt-4o-mini": ModelPrice(0.15, 0.075, 0.60),
    "gpt-4.1": ModelPrice(2.00, 0.50, 8.00),
    "gpt-4.1-mini": ModelPrice(0.40, 0.10, 1.60),
    "gpt-4.1-nano": ModelPrice(0.10, 0.025, 0.40),
    "gpt-5": ModelPrice(1.25, 0.125, 10.00),
    "gpt-5-mini": ModelPrice(0.25, 0.025, 2.00),
    "gpt-5-nano": ModelPrice(0.05, 0.005, 0.40),
    "gpt-5.4-mini": ModelPrice(0.75, 0.075, 4.50),
    "gpt-5.4-nano": ModelPrice(0.20, 0.02, 1.25),
}

# $ per call of a hosted tool.
TOOL_CALL_PRICES: dict[str, float] = {
    "web_search_call": 10.00 / 1000,
    "file_search_call": 2.50 / 1000,
}

_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def base_model(model: str) -> str:
    """The price-table name of a model id: the dated snapshot suffix removed."""
    return _SNAPSHOT_SUFFIX.sub("", model)


def price_of(model: str) -> ModelPrice | None:
    return MODEL_PRICES.get(base_model(model))


def turn_cost(
    model: str,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    tool_calls: dict[str, int] | None = None,
) -> float | None:
    """Dollar cost of one turn, or None when the model is not in the price table (a local model is free,
    but an unknown OpenAI model is not: None says "unknown" rather than a wrong $0)."""
    price = price_of(model)
    if price is None:
        return 0.0 if is_local_model(model) else None
    uncached = max(input_tokens - cached_tokens, 0)
    cost = (uncached * price.input + cached_tokens * price.cached_input + output_tokens * price.output) / 1e6
    for item_type, count in (tool_calls or {}).items():
        cost += TOOL_CALL_PRICES.get(item_type, 0.0) * count
    return cost


def estimate_model(model: str | None) -> str:
    """Whose prices estimate a local turn: the thread's model when it has a price, else gpt-4.1-mini."""
    return model if model and price_of(model) is not None else HOSTED_DEFAULT_MODEL


def estimate_label(cost: float | None, model: str) -> str:
    """An estimate, labelled as one: "≈ $0.000075 at gpt-4.1-mini prices" ("" when there is none)."""
    return "" if cost is None else f"≈ ${cost:.6f} at {base_model(model)} prices"


def local_estimate(
    model: str, input_tokens: int, cached_tokens: int, output_tokens: int, estimate_at: str | None = None
) -> float | None:
    """What a turn a local model answered would have cost at `estimate_at`'s prices (see `estimate_model`);
    None for a turn another model answered (its cost is real, not estimated)."""
    if not is_local_model(model):
        return None
    return turn_cost(estimate_model(estimate_at), input_tokens, cached_tokens, output_tokens)


def describe_cost(
    model: str,
    cost_usd: float | None,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    *,
    estimate_at: str | None = None,
) -> str:
    """A turn's cost for display: "$0.000056"; a local model's "$0 (local, ≈ $0.000075 at gpt-4.1-mini
    prices)", estimated at `estimate_at`'s prices (see `estimate_model`); "price unknown"."""
    if is_local_model(model):
        estimate = local_estimate(model, input_tokens, cached_tokens, output_tokens, estimate_at)
        return f"$0 (local, {estimate_label(estimate, estimate_model(estimate_at))})"
    return "price unknown" if cost_usd is None else f"${cost_usd:.6f}"


# -- a user's own prices ---------------------------------------------------------------------------------------

PRICES_ENV = "ASSISTANT_PRICES"


@dataclass(frozen=True)
class PriceTable:
    """Model and tool-call prices: the built-in table, with a user's overrides on top."""

    models: dict[str, ModelPrice]
    tool_calls: dict[str, float]

    def cost(
        self,
        model: str,
        input_tokens: int,
        cached_tokens: int,
        output_tokens: int,
        tool_calls: dict[str, int] | None = None,
    ) -> float | None:
        """As `turn_cost`, with this table's prices."""
        price = self.models.get(model) or self.models.get(base_model(model))
        if price is None:
            return 0.0 if is_local_model(model) else None
        uncached = max(input_tokens - cached_tokens, 0)
        cost = (uncached * price.input + cached_tokens * price.cached_input + output_tokens * price.output) / 1e6
        for item_type, count in (tool_calls or {}).items():
            cost += self.tool_calls.get(item_type, 0.0) * count
        return cost


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The built-in prices, overridden by a JSON file: `path`, else the file `ASSISTANT_PRICES` names.

    The file: {"models": {"my-model": {"input": 0.4, "cached_input": 0.1, "output": 1.6}},
               "tool_calls": {"web_search_call": 0.01}}  ($ per 1M tokens; $ per call). Raises ValueError with
    what is wrong."""
    models = dict(MODEL_PRICES)
    tools = dict(TOOL_CALL_PRICES)
    path = path or os.environ.get(PRICES_ENV)
    if not path:
        return PriceTable(models, tools)
    try:
        data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the price file {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ValueError(f"the price file {path} is not valid JSON: {error}") from None
    except RecursionError:
        raise ValueError(f"the price file {path} is nested too deeply to read") from None
    if not isinstance(data, dict) or not set(data) <= {"models", "tool_calls"}:
        raise ValueError(f'the price file {path} must be an object with "models" and/or "tool_calls"')
    for name, entry in (data.get("models") or {}).items():
        try:
            models[name] = ModelPrice(
                float(entry["input"]), float(entry.get("cached_input", entry["input"])), float(entry["output"])
            )
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f'{path}: models.{name} needs numbers "input" and "output" ($ per 1M tokens; '
                '"cached_input" is optional)'
            ) from None
    for name, value in (data.get("tool_calls") or {}).items():
        if not isinstance(value, int | float):
            raise ValueError(f"{path}: tool_calls.{name} must be a number ($ per call)")
        tools[name] = float(value)
    return PriceTable(models, tools)
