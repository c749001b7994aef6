"""Fixtures for the fuzz tests: a real local server, and how hard to fuzz.

The fuzzers run a small fixed number of examples with derandomized generation, so CI sees the same inputs every
run; FUZZ_EXAMPLES raises the count (and FUZZ_SEED picks other inputs) for a long run by hand:

    FUZZ_EXAMPLES=500 FUZZ_SEED=7 pytest tests/fuzz
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from assistant.local import LocalServer

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)  # 0: each file's small CI default
FUZZ_SEED = os.environ.get("FUZZ_SEED")  # unset: derandomized (the same inputs every run)
# Schemathesis' coverage phase (boundary and wrong-type values for every property) is thorough but sends ~9,000
# requests for POST /responses alone: on for long runs, off in CI.
FUZZ_COVERAGE = os.environ.get("FUZZ_COVERAGE", "") not in ("", "0")


def examples(ci_default: int) -> int:
    return FUZZ_EXAMPLES or ci_default


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(db_path=tmp_path_factory.mktemp("fuzz") / "server.db", engine="reference") as running:
        yield running
