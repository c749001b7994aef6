"""Fixtures for the fuzz tests: a real local server, and how hard to fuzz.

The fuzzers run a small fixed number of examples with derandomized generation, so CI sees the same inputs every
run; FUZZ_EXAMPLES raises the count (and FUZZ_SEED picks other inputs) for a long run by hand:

    FUZZ_EXAMPLES=500 FUZZ_SEED=7 pytest tests/fuzz
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest

from assistant import Assistant
from assistant.server import LocalServer

from .raw_stream_server import RawStreamServer

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)  # 0: each file's small CI default
FUZZ_SEED = os.environ.get("FUZZ_SEED")  # unset: derandomized (the same inputs every run)
# Schemathesis' coverage phase (boundary and wrong-type values for every property) is thorough but sends ~9,000
# requests for POST /responses alone: on for long runs, off in CI.
FUZZ_COVERAGE = os.environ.get("FUZZ_COVERAGE", "") not in ("", "0")


CLIENT_TIMEOUT_S = 5.0  # per read: a served body always ends (the server closes), so this is only a backstop


def examples(ci_default: int) -> int:
    return FUZZ_EXAMPLES or ci_default


def fuzzed(ci_examples: int) -> Callable[[Any], Any]:
    """The stream fuzzes' hypothesis settings: `ci_examples` examples (or FUZZ_EXAMPLES), the same inputs every
    run unless FUZZ_SEED picks others, no example database, and no per-example deadline (each turn is bounded
    by the fuzz's own hang limit instead)."""

    def decorate(test: Any) -> Any:
        test = hypothesis.settings(
            max_examples=examples(ci_examples),
            derandomize=FUZZ_SEED is None,
            database=None,
            deadline=None,
            suppress_health_check=[
                hypothesis.HealthCheck.function_scoped_fixture,
                hypothesis.HealthCheck.too_slow,
                hypothesis.HealthCheck.data_too_large,
            ],
        )(test)
        return hypothesis.seed(int(FUZZ_SEED))(test) if FUZZ_SEED is not None else test

    return decorate


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(db_path=tmp_path_factory.mktemp("fuzz") / "server.db", engine="reference") as running:
        yield running


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawStreamServer]:
    with RawStreamServer() as server:
        yield server


@pytest.fixture(scope="module")
def library(raw_server: RawStreamServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """The library against the raw stream server: whatever it serves is what each turn receives."""
    with Assistant(
        base_url=raw_server.base_url,
        api_key="sk-fuzz",
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
        db_path=tmp_path_factory.mktemp("index") / "index.db",
    ) as instance:
        yield instance
