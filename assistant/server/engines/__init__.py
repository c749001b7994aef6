"""Engines decide what the local server's "model" says (see base.py for the interface)."""

from .engine import (
    Annotation,
    Engine,
    EngineStep,
    Finish,
    GenerationOptions,
    GenerationRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from .reference import REFERENCE_MODEL, ReferenceEngine
from .registry import EngineRegistry, ServedModel, default_registry, registry_for

__all__ = [
    "REFERENCE_MODEL",
    "Annotation",
    "Engine",
    "EngineRegistry",
    "EngineStep",
    "Finish",
    "GenerationOptions",
    "GenerationRequest",
    "ReferenceEngine",
    "ServedModel",
    "TextDelta",
    "ToolCall",
    "Usage",
    "default_registry",
    "registry_for",
]
