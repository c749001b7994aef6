"""Which engine serves which model id.

Model ids are what clients send; the server accepts exactly the ids some engine claims (plus dated snapshots of
them, e.g. gpt-4.1-mini-2025-04-14) and answers any other id like the real API does (model_not_found).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ...pricing import MODEL_PRICES, base_model
from .base import Engine
from .reference import REFERENCE_MODEL, ReferenceEngine


@dataclass(frozen=True)
class ServedModel:
    id: str
    owned_by: str
    engine: Engine


class EngineRegistry:
    def __init__(self) -> None:
        self._models: dict[str, ServedModel] = {}

    def register(self, engine: Engine, model_ids: Iterable[str], owned_by: str = "system") -> None:
        for model_id in model_ids:
            self._models[model_id] = ServedModel(model_id, owned_by, engine)

    def resolve(self, model: str) -> ServedModel | None:
        return self._models.get(model) or self._models.get(base_model(model))

    def models(self) -> list[ServedModel]:
        return list(self._models.values())


def default_registry() -> EngineRegistry:
    """The reference engine answering for every priced OpenAI model and for its own id."""
    registry = EngineRegistry()
    engine = ReferenceEngine()
    registry.register(engine, MODEL_PRICES, owned_by="system")
    registry.register(engine, [REFERENCE_MODEL], owned_by="assistant-local")
    return registry
