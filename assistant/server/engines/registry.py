"""Which engine serves which model id, and which engine a server runs.

Model ids are what clients send; the server accepts exactly the ids some engine claims (plus dated snapshots of
them, e.g. gpt-4.1-mini-2025-04-14) and answers any other id like the real API does (model_not_found).

A server runs one main engine, which answers for every priced OpenAI model id, so a client written for
`gpt-4.1-mini` works offline unchanged. But it says which model answered: a response's `model` is the engine's
own id (`smollm2-135m-instruct` for llama, `reference` for the reference engine), never the OpenAI id it was
asked for, and `/v1/models` lists the engines' own ids first, owned by "local", then the OpenAI ids they answer
for ("local: answered by ..."). The deterministic reference engine always stays reachable by its own id.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ...model_names import ENGINE_ENVIRONMENT_VARIABLE
from ...pricing import MODEL_PRICES, base_model
from .engine import Engine
from .reference import REFERENCE_MODEL, ReferenceEngine
from .smollm2 import SMOLLM2_MODEL, llama_engine_missing

logger = logging.getLogger(__name__)

ENGINE_CHOICES = ("auto", "llama", "reference")
LOCAL_OWNER = "local"


@dataclass(frozen=True)
class ServedModel:
    id: str
    owned_by: str
    engine: Engine
    answered_by: str  # the model that really answers: what a response's `model` says


class EngineRegistry:
    def __init__(self) -> None:
        self._models: dict[str, ServedModel] = {}

    def register(
        self, engine: Engine, model_ids: Iterable[str], owned_by: str = "system", answered_by: str | None = None
    ) -> None:
        """`engine` answers for `model_ids`; its responses name `answered_by` as their model (by default, each
        id names itself)."""
        for model_id in model_ids:
            self._models[model_id] = ServedModel(model_id, owned_by, engine, answered_by or model_id)

    def serve_locally(self, engine: Engine, model_id: str, *, also_for: Iterable[str] = ()) -> None:
        """A local engine under its own id, answering too for the ids `also_for` (as itself)."""
        self.register(engine, [model_id], owned_by=LOCAL_OWNER)
        self.register(engine, also_for, owned_by=f"{LOCAL_OWNER}: answered by {model_id}", answered_by=model_id)

    def resolve(self, model: str) -> ServedModel | None:
        return self._models.get(model) or self._models.get(base_model(model))

    def models(self) -> list[ServedModel]:
        """The local models under their own ids first, then the ids they answer for."""
        served = list(self._models.values())
        return [m for m in served if m.id == m.answered_by] + [m for m in served if m.id != m.answered_by]


def default_registry() -> EngineRegistry:
    """The reference engine answering for every priced OpenAI model and for its own id."""
    registry = EngineRegistry()
    registry.serve_locally(ReferenceEngine(), REFERENCE_MODEL, also_for=MODEL_PRICES)
    return registry


def llama_registry() -> EngineRegistry:
    """SmolLM2 through llama.cpp answering for every priced OpenAI model and for its own id; the reference engine
    under `reference`. Raises RuntimeError (saying how to install it) when llama.cpp or the weights are missing."""
    from .llama import LlamaEngine  # imports llama_cpp: only when this engine is chosen

    registry = EngineRegistry()
    registry.serve_locally(LlamaEngine(), SMOLLM2_MODEL, also_for=MODEL_PRICES)
    registry.serve_locally(ReferenceEngine(), REFERENCE_MODEL)
    return registry


def registry_for(choice: str) -> EngineRegistry:
    """The registry for an engine choice: "llama", "reference", or "auto" (ASSISTANT_LOCAL_ENGINE when set, else
    llama when it is installed, else reference, announced once per process)."""
    if choice == "auto":
        choice = os.environ.get(ENGINE_ENVIRONMENT_VARIABLE) or "auto"
    if choice not in ENGINE_CHOICES:
        raise ValueError(
            f"Unknown local engine {choice!r} (from {ENGINE_ENVIRONMENT_VARIABLE}?): expected one of "
            f"{', '.join(ENGINE_CHOICES)}."
        )
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
