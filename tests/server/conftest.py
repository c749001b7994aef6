"""Fixtures for the local server tests: a real server on a free loopback port, real SDK clients, raw HTTP, and
validators for the official OpenAPI schemas."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from jsonschema import Draft202012Validator
from openai import AsyncOpenAI, OpenAI
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from assistant.server import LocalServer
from assistant.server.engines.smollm2 import llama_engine_missing

from .tools_server import tool_settings, write_corpus

TESTS = Path(__file__).resolve().parents[1]
SPEC_PATH = TESTS / "openapi.json"  # OpenAI's published OpenAPI spec (tests/recordings/PROVENANCE.md)
RECORDINGS = TESTS / "recordings"
API_KEY = "sk-test"


# `server` (one local server per test module, its faults cleared after each test) comes from the suite's plugin,
# tests/support/fixtures.py, as for every other test.


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A server of its own, for tests about the server's lifetime (restart, shutdown)."""
    with LocalServer(db_path=tmp_path / "server.db") as running:
        yield running


def make_client(server: LocalServer, **options: Any) -> OpenAI:
    settings: dict[str, Any] = {"api_key": API_KEY, "_strict_response_validation": True, "max_retries": 0}
    settings.update(options)
    return OpenAI(base_url=server.base_url, **settings)


@pytest.fixture
def client(server: LocalServer) -> Iterator[OpenAI]:
    with make_client(server) as sdk:
        yield sdk


@pytest.fixture
async def aclient(server: LocalServer) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(
        base_url=server.base_url, api_key=API_KEY, _strict_response_validation=True, max_retries=0
    ) as sdk:
        yield sdk


@pytest.fixture
def http(server: LocalServer) -> Iterator[httpx2.Client]:
    """Plain HTTP, to see the wire JSON and SSE exactly as sent."""
    with httpx2.Client(base_url=server.base_url, headers={"authorization": f"Bearer {API_KEY}"}) as raw:
        yield raw


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server with hosted tools: a small web corpus of its own, small sandbox and upload limits."""
    root = tmp_path_factory.mktemp("tools")
    settings = tool_settings(write_corpus(root / "corpus"))
    with LocalServer(db_path=root / "server.db", tool_settings=settings) as running:
        yield running


@pytest.fixture
def tools_client(tool_server: LocalServer) -> Iterator[OpenAI]:
    with make_client(tool_server) as sdk:
        yield sdk


LLAMA_MISSING = llama_engine_missing()


def require_llama() -> None:
    """Skip a test of the llama engine where it is not installed, but fail it under CI=true (CI installs it)."""
    if LLAMA_MISSING:
        if os.environ.get("CI"):
            pytest.fail(f"{LLAMA_MISSING}. CI must run the llama engine for real.")
        pytest.skip(LLAMA_MISSING)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    require_llama()
    with LocalServer(db_path=tmp_path_factory.mktemp("llama") / "server.db", engine="llama") as server:
        yield server


@pytest.fixture
def llama_client(llama_server: LocalServer) -> Iterator[OpenAI]:
    """An SDK client of the llama engine's server, patient enough for real decoding on a slow machine."""
    with make_client(llama_server, timeout=120) as sdk:
        yield sdk


def parse_sse(body: str) -> list[dict[str, Any]]:
    """SSE text -> [{"event": name, "data": parsed JSON}], strictly: every block must have both lines."""
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = value
        events.append({"event": fields["event"], "data": json.loads(fields["data"])})
    return events


# Where the spec and real recorded traffic disagree, the recording wins (and the server follows it). Each entry is
# (schema, property) that the spec declares non-nullable but the real API sends as null.
RECORDED_NULLS = [
    # llm test_responses_basic_streaming: response.created/in_progress carry "usage": null and "user": null.
    ("Response", "usage"),
    ("Response", "user"),
    # pydantic-ai test_openai_responses_model_file_search_tool__00/__01: files and vector stores carry nulls.
    ("OpenAIFile", "expires_at"),
    ("OpenAIFile", "status_details"),
    ("VectorStoreObject", "expires_after"),
]


def recorded_spec() -> dict[str, Any]:
    """The official spec with RECORDED_NULLS applied: what the real API sends, where the two disagree."""
    spec = json.loads(SPEC_PATH.read_text())
    for schema_name, prop in RECORDED_NULLS:
        _allow_null(spec["components"]["schemas"], schema_name, prop)
    return spec


def _allow_null(schemas: dict[str, Any], schema_name: str, prop: str) -> None:
    schema = schemas[schema_name]
    for part in [schema, *schema.get("allOf", [])]:
        part = schemas[part["$ref"].rsplit("/", 1)[1]] if "$ref" in part else part
        if prop in part.get("properties", {}):
            part["properties"][prop] = {"anyOf": [part["properties"][prop], {"type": "null"}]}
            return
    raise KeyError(f"{schema_name}.{prop} not found in the spec")


class Spec:
    """Validates JSON against `#/components/schemas/<name>` of the official spec (Draft 2020-12)."""

    def __init__(self) -> None:
        spec = recorded_spec()
        self.schemas: dict[str, Any] = spec["components"]["schemas"]
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self._registry = Registry().with_resource("urn:openapi", resource)
        self._validators: dict[str, Draft202012Validator] = {}
        self.event_schemas = {}
        for member in self.schemas["ResponseStreamEvent"]["anyOf"]:
            name = member["$ref"].rsplit("/", 1)[1]
            event_type = self.schemas[name]["properties"]["type"]["enum"][0]
            self.event_schemas[event_type] = name

    def validator(self, name: str) -> Draft202012Validator:
        # Built on first use, once per name, so that a test may first edit `schemas` (this Spec's own copy).
        if name not in self._validators:
            reference = {"$ref": f"urn:openapi#/components/schemas/{name}"}
            self._validators[name] = Draft202012Validator(reference, registry=self._registry)
        return self._validators[name]

    def validate(self, name: str, instance: Any) -> None:
        errors = sorted(self.validator(name).iter_errors(instance), key=lambda e: e.path)
        assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])

    def validate_event(self, event: dict[str, Any]) -> None:
        self.validate(self.event_schemas[event["type"]], event)


@pytest.fixture(scope="session")
def spec() -> Spec:
    return Spec()


def recording(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / f"{name}.json").read_text())
