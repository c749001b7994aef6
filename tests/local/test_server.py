"""LocalServer lifetime, exposure rules and API-key checks."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx2
import openai
import pytest

from assistant.local import LocalServer, serve

from .conftest import make_client

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
        assert httpx2.post(f"{server.base_url}/_faults", json={"status": 500},
                           headers={"authorization": "Bearer x"}).status_code == 404


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
