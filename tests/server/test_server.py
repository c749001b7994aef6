"""LocalServer lifetime, exposure rules and API-key checks."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest

from assistant.server import LocalServer, serve

from .conftest import API_KEY, make_client

# Key-shaped test values are built at run time, so no key-like literal sits in the source.
KEY = "sk-" + "abcdefghijklmnopqrstuvwxyz"


def test_refuses_non_loopback_without_key() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        LocalServer(host="0.0.0.0")
    with pytest.raises(ValueError, match="non-loopback"):
        serve("0.0.0.0", 8000, None)
    LocalServer(host="0.0.0.0", api_key=KEY)  # allowed (not started)
    LocalServer(host="::1")


def test_wrong_key_is_rejected_and_masked(tmp_path: Path) -> None:
    wrong = "sk-" + "wrongkeywrongkeywxyz"
    with LocalServer(tmp_path / "db", api_key=KEY) as server:
        with make_client(server, api_key=wrong) as client, pytest.raises(openai.AuthenticationError) as denied:
            client.models.list()
        assert denied.value.code == "invalid_api_key"
        assert denied.value.type == "invalid_request_error"
        assert wrong not in str(denied.value) and KEY not in str(denied.value)
        assert "sk-wr****wxyz" in str(denied.value)
        with make_client(server, api_key=KEY) as client:
            assert client.responses.create(model="gpt-4o", input="hi").status == "completed"
        missing = httpx2.get(f"{server.base_url}/models")
        assert missing.status_code == 401 and missing.json()["error"]["type"] == "invalid_request_error"
        assert httpx2.post(f"{server.base_url}/_faults", json={"status": 500}).status_code == 401


def test_start_stop_leaves_no_threads(tmp_path: Path) -> None:
    before = {t.ident for t in threading.enumerate()}
    server = LocalServer(tmp_path / "db").start()
    assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0
    with make_client(server) as client:
        list(client.responses.create(model="gpt-4o", input="hi", stream=True))
        client.responses.create(model="gpt-4o", input="hi", background=True)
    server.stop()
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith(("assistant", "bg-"))]
    assert leftover == []
    with pytest.raises(RuntimeError):
        server.base_url  # noqa: B018


def test_in_memory_store_and_fault_switch_off(tmp_path: Path) -> None:
    with LocalServer(enable_faults=False) as server, make_client(server) as client:
        assert client.responses.create(model="reference", input="x").status == "completed"
        assert (
            httpx2.post(
                f"{server.base_url}/_faults", json={"status": 500}, headers={"authorization": "Bearer x"}
            ).status_code
            == 404
        )


def test_models(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"gpt-4.1-mini", "gpt-5", "reference"} <= ids
    assert client.models.retrieve("gpt-4.1-mini-2025-04-14").id == "gpt-4.1-mini-2025-04-14"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("nope")
    assert missing.value.code == "model_not_found"


def test_invalid_json_and_missing_parameters(http: httpx2.Client) -> None:
    broken = http.post("/responses", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "parse the JSON body" in broken.json()["error"]["message"]
    missing = http.post("/responses", json={"input": "x"})
    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "message": "Missing required parameter: 'model'.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "missing_required_parameter",
    }
    no_input = http.post("/responses", json={"model": "gpt-4o"})
    assert no_input.json()["error"]["param"] == "input"
    assert http.get("/nope").json()["error"]["message"] == "Invalid URL (GET /v1/nope)"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_client_that_goes_away_mid_request_is_not_logged_as_an_error(server: LocalServer) -> None:
    # uvicorn's loggers do not propagate to the root logger (so caplog would not see them): listen on them here.
    records = _Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "assistant.server.routes")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(records)
    loggers[1].setLevel(logging.DEBUG)
    try:
        # The server holds the request past the client's timeout, then reads its body from a closed connection.
        server.inject_fault(delay_s=0.3, path="/v1/responses")
        with pytest.raises(httpx2.TimeoutException):
            httpx2.post(
                f"{server.base_url}/responses",
                json={"model": "gpt-4.1-mini", "input": "hi"},
                headers={"authorization": f"Bearer {API_KEY}"},
                timeout=0.05,
            )
        deadline = time.monotonic() + 5
        while not records.records:  # the server's word on it: a debug line, or (the bug) an error
            assert time.monotonic() < deadline, "the server never noticed the client leave"
            time.sleep(0.02)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(records)
            logger.setLevel(level)
    assert [
        record.getMessage() for record in records.records if record.levelno >= logging.WARNING or record.exc_info
    ] == []  # was: uvicorn's "Exception in ASGI application" with a ClientDisconnect
    assert "client disconnected" in records.records[0].getMessage()
