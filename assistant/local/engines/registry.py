"""Which engine serves which model id, and which engine a server runs.

Model ids are what clients send; the server accepts exactly the ids some engine claims (plus dated snapshots of
them, e.g. gpt-4.1-mini-2025-04-14) and answers any other id like the real API does (model_not_found).

A server runs one main engine, which answers for every priced OpenAI model id, so a client written for
`gpt-4.1-mini` works offline unchanged. The deterministic reference engine always stays reachable by its own id
`reference`; the llama engine also answers to `smollm2-135m-instruct`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ...pricing import MODEL_PRICES, base_model
from .base import Engine
from .reference import REFERENCE_MODEL, ReferenceEngine
from .smollm2 import SMOLLM2_MODEL, llama_engine_missing

logger = logging.getLogger(__name__)

ENGINE_CHOICES = ("auto", "llama", "reference")
# Picks the engine wherever the choice is "auto" (the embedded default, `assistant serve` without --engine). The
# test suite sets it to "reference" so that answers stay deterministic whether or not llama is installed.
ENGINE_ENVIRONMENT_VARIABLE = "ASSISTANT_LOCAL_ENGINE"


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


def llama_registry() -> EngineRegistry:
    """SmolLM2 through llama.cpp answering for every priced OpenAI model and for its own id; the reference engine
    under `reference`. Raises RuntimeError (saying how to install it) when llama.cpp or the weights are missing."""
    from .llama import LlamaEngine  # imports llama_cpp: only when this engine is chosen

    registry = EngineRegistry()
    engine = LlamaEngine()
    registry.register(engine, MODEL_PRICES, owned_by="system")
    registry.register(engine, [SMOLLM2_MODEL], owned_by="assistant-local")
    registry.register(ReferenceEngine(), [REFERENCE_MODEL], owned_by="assistant-local")
    return registry


def registry_for(choice: str) -> EngineRegistry:
    """The registry for an engine choice: "llama", "reference", or "auto" (ASSISTANT_LOCAL_ENGINE when set, else
    llama when it is installed, else reference, announced once per process)."""
    if choice == "auto":
        choice = os.environ.get(ENGINE_ENVIRONMENT_VARIABLE) or "auto"
    if choice not in ENGINE_CHOICES:
        raise ValueError(f"Unknown local engine {choice!r} (from {ENGINE_ENVIRONMENT_VARIABLE}?): expected one of "
                         f"{', '.join(ENGINE_CHOICES)}.")
    if choice == "reference":
        return default_registry()
    if choice == "llama":
        return llama_registry()
    missing = llama_engine_missing()
    if missing is None:
        return llama_registry()
    _announce_fallback(missing)
    return default_registry()


_announced = threading.Event()


def _announce_fallback(reason: str) -> None:
    if not _announced.is_set():
        _announced.set()
        logger.warning("%s: the local server answers with the deterministic reference engine instead.", reason)
