"""The offline OpenAI-compatible server: the embedded default when there is no OPENAI_API_KEY, and the test
double for every test (the real `openai` SDK talks to it over real HTTP)."""

from .engines import EngineRegistry, ReferenceEngine, default_registry
from .faults import Fault, FaultSwitch
from .routes import create_app
from .server import LocalServer, serve
from .state import ServerStore

__all__ = [
    "EngineRegistry",
    "Fault",
    "FaultSwitch",
    "LocalServer",
    "ReferenceEngine",
    "ServerStore",
    "create_app",
    "default_registry",
    "serve",
]
