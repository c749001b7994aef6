"""`assistant serve` is strict by default and permissive with `--lenient` (tool_call_rules.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest

from tests.support.cli import environment, free_port, start_cli

ORPHAN_OUTPUT = [
    {"role": "user", "content": "hi"},
    {"type": "function_call_output", "call_id": "call_nowhere", "output": "sunny"},
]


@contextlib.contextmanager
def serving(*args: str, folder: Path) -> Iterator[openai.OpenAI]:
    """`assistant serve` on a free port, and an SDK client of it once it answers."""
    port = free_port()
    env = environment(ASSISTANT_DB=str(folder / "index.db"))
    process = start_cli("serve", "--port", str(port), "--engine", "reference", *args, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{base_url}/models", timeout=2)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        with openai.OpenAI(
            base_url=base_url, api_key="sk-local", max_retries=0, _strict_response_validation=True
        ) as client:
            yield client
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_is_strict_by_default(tmp_path: Path) -> None:
    with serving(folder=tmp_path) as client, pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-4.1-mini", input=ORPHAN_OUTPUT)  # type: ignore[arg-type]
    assert refused.value.body == {
        "message": "No tool call found for function call output with call_id call_nowhere.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }


def test_serve_lenient_keeps_the_permissive_behaviour(tmp_path: Path) -> None:
    with serving("--lenient", folder=tmp_path) as client:
        response = client.responses.create(model="gpt-4.1-mini", input=ORPHAN_OUTPUT)  # type: ignore[arg-type]
    assert response.status == "completed"
