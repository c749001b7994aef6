"""The fault switch, driven over HTTP, against the SDK's real retry and error handling."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest
from openai import OpenAI

from assistant.server import LocalServer

from .conftest import make_client


def add_fault(http: httpx2.Client, **fault: object) -> None:
    response = http.post("/_faults", json=fault)
    assert response.status_code == 200, response.text


def test_fault_switch_route(http: httpx2.Client) -> None:
    add_fault(http, status=500, count=3, path="/v1/models")
    assert http.get("/_faults").json()["data"][0]["count"] == 3
    assert http.get("/models").status_code == 500
    assert http.get("/_faults").json()["data"][0]["count"] == 2
    assert http.delete("/_faults").json()["data"] == []
    assert http.get("/models").status_code == 200
    assert http.post("/_faults", json={"bogus": 1}).json()["error"]["param"] == "bogus"


def test_rate_limit_retried_with_retry_after(server: LocalServer, http: httpx2.Client) -> None:
    add_fault(http, status=429, count=2, retry_after=0.01, path="/v1/responses")
    with make_client(server, max_retries=2) as client:
        started = time.monotonic()
        raw = client.responses.with_raw_response.create(model="gpt-4o", input="hi")
        elapsed = time.monotonic() - started
    assert raw.retries_taken == 2
    assert raw.parse().output_text == "Reference reply to: hi"
    assert elapsed < 0.5  # the 10 ms Retry-After was used, not the SDK's 0.5 s+ backoff


def test_rate_limit_beyond_retries_raises(server: LocalServer) -> None:
    server.inject_fault(status=429, count=3, retry_after=0.01)
    with make_client(server, max_retries=2) as client, pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="gpt-4o", input="hi")
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.type == "requests"
    assert limited.value.response.headers["retry-after"] == "1"
    assert limited.value.request_id is not None


def test_server_error(server: LocalServer, client: OpenAI) -> None:
    server.inject_fault(status=500)
    with pytest.raises(openai.InternalServerError) as failed:
        client.conversations.create()
    assert failed.value.type == "server_error"
    assert client.conversations.create().id.startswith("conv_")  # one fault, one failure


def test_delay(server: LocalServer, client: OpenAI) -> None:
    server.inject_fault(delay_s=0.2, path="/v1/models")
    started = time.monotonic()
    client.models.list()
    assert time.monotonic() - started >= 0.2


def test_cut_stream_ends_without_terminal_event_and_changes_nothing(server: LocalServer, client: OpenAI) -> None:
    conversation = client.conversations.create()
    server.inject_fault(cut_after_events=4)
    seen = []
    with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
        for event in client.responses.create(
            model="gpt-4o", input="count to 20", stream=True, conversation=conversation.id
        ):
            seen.append(event)
    assert [e.type for e in seen][:2] == ["response.created", "response.in_progress"]
    assert len(seen) == 4
    assert client.conversations.items.list(conversation.id).data == []
    deadline = time.monotonic() + 5
    while client.responses.retrieve(seen[0].response.id).status == "in_progress" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.responses.retrieve(seen[0].response.id).status == "failed"


def test_cut_stream_through_the_helper(server: LocalServer, client: OpenAI) -> None:
    server.inject_fault(cut_after_events=6)
    with (
        pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)),
        client.responses.stream(model="gpt-4o", input="count to 20") as stream,
    ):
        for _ in stream:
            pass
