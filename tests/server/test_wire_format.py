"""The server's wire format against ground truth: the official schemas and the recorded event grammar."""

from __future__ import annotations

import httpx2

from .conftest import Spec, parse_sse, recording

BASIC_STREAM = "llm__test_openai_responses__test_responses_basic_streaming__00"
OPTIONAL_EVENT_KEYS = {"obfuscation"}


def stream(http: httpx2.Client, **body: object) -> httpx2.Response:
    response = http.post("/responses", json={"model": "gpt-4.1-mini", "stream": True, **body})
    assert response.status_code == 200, response.text
    return response


def test_stream_headers_and_framing(http: httpx2.Client) -> None:
    response = stream(http, input="hello")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["x-request-id"].startswith("req_")
    assert "[DONE]" not in response.text
    events = parse_sse(response.text)
    assert all(e["event"] == e["data"]["type"] for e in events)
    assert [e["data"]["sequence_number"] for e in events] == list(range(len(events)))
    terminal = [e for e in events if e["event"] in ("response.completed", "response.incomplete", "response.failed")]
    assert terminal == events[-1:]


def test_text_stream_follows_the_recorded_grammar(http: httpx2.Client) -> None:
    recorded = [e["data"] for e in recording(BASIC_STREAM)["response"]["sse_events"]]
    ours = [e["data"] for e in parse_sse(stream(http, input="say a few words please").text)]

    def collapse(types: list[str]) -> list[str]:  # delta runs compare as one, like "delta+" in the grammar
        return [t for i, t in enumerate(types) if not (t.endswith(".delta") and i and types[i - 1] == t)]

    assert collapse([e["type"] for e in ours]) == collapse([e["type"] for e in recorded])
    assert sum(e["type"] == "response.output_text.delta" for e in ours) > 1

    recorded_keys = {e["type"]: set(e) for e in recorded}
    for event in ours:
        expected = recorded_keys[event["type"]]
        assert set(event) - OPTIONAL_EVENT_KEYS == expected - OPTIONAL_EVENT_KEYS, event["type"]
        if "item" in event:
            assert set(event["item"]) == set(next(e for e in recorded if e["type"] == event["type"])["item"])
        if "response" in event:
            recorded_response = next(e for e in recorded if e["type"] == event["type"])["response"]
            assert set(recorded_response) - {"billing"} <= set(event["response"])


def test_every_event_and_body_validates_against_the_spec(http: httpx2.Client, spec: Spec) -> None:
    for body in ({"input": "hello"}, {"input": "repeat 50 words", "max_output_tokens": 16}):
        events = parse_sse(stream(http, **body).text)
        for event in events:
            spec.validate_event(event["data"])
        final = events[-1]["data"]["response"]
        spec.validate("Response", final)

        retrieved = http.get(f"/responses/{final['id']}")
        spec.validate("Response", retrieved.json())
        assert retrieved.json() == final
        replayed = parse_sse(http.get(f"/responses/{final['id']}", params={"stream": "true"}).text)
        assert [e["data"] for e in replayed] == [e["data"] for e in events]


def test_json_bodies_validate_against_the_spec(http: httpx2.Client, spec: Spec) -> None:
    conversation = http.post(
        "/conversations",
        json={
            "metadata": {"k": "v"},
            "items": [{"role": "user", "content": "hi"}, {"type": "message", "role": "assistant", "content": "hello"}],
        },
    ).json()
    spec.validate("ConversationResource", conversation)
    response = http.post("/responses", json={"model": "gpt-4o", "input": "more", "conversation": conversation["id"]})
    spec.validate("Response", response.json())
    items = http.get(f"/conversations/{conversation['id']}/items")
    spec.validate("ConversationItemList", items.json())
    added = http.post(f"/conversations/{conversation['id']}/items", json={"items": [{"role": "user", "content": "x"}]})
    spec.validate("ConversationItemList", added.json())
    item_id = added.json()["data"][0]["id"]
    spec.validate("ConversationItem", http.get(f"/conversations/{conversation['id']}/items/{item_id}").json())
    spec.validate("ConversationResource", http.delete(f"/conversations/{conversation['id']}/items/{item_id}").json())
    spec.validate(
        "ConversationResource", http.post(f"/conversations/{conversation['id']}", json={"metadata": {"a": "b"}}).json()
    )
    spec.validate("ResponseItemList", http.get(f"/responses/{response.json()['id']}/input_items").json())
    spec.validate("DeletedConversationResource", http.delete(f"/conversations/{conversation['id']}").json())
    spec.validate("ListModelsResponse", http.get("/models").json())
    spec.validate("Model", http.get("/models/gpt-4.1-mini-2025-04-14").json())


def test_error_bodies_validate_against_the_spec(http: httpx2.Client, spec: Spec) -> None:
    failures = [
        http.post("/responses", json={"model": "nope", "input": "x"}),
        http.post("/responses", content=b"{not json", headers={"content-type": "application/json"}),
        http.post("/responses", json={"input": "x"}),
        http.get("/responses/resp_missing"),
        http.get("/conversations/conv_missing"),
        http.get("/models/nope"),
        http.get("/no/such/route"),
    ]
    for failure in failures:
        assert failure.status_code >= 400
        assert failure.headers["x-request-id"].startswith("req_")
        spec.validate("ErrorResponse", failure.json())


def test_obfuscation_can_be_turned_off(http: httpx2.Client) -> None:
    on = parse_sse(stream(http, input="count to 3").text)
    off = parse_sse(stream(http, input="count to 3", stream_options={"include_obfuscation": False}).text)
    assert all("obfuscation" in e["data"] for e in on if e["event"] == "response.output_text.delta")
    assert not any("obfuscation" in e["data"] for e in off)
    response_id = on[0]["data"]["response"]["id"]
    replay = parse_sse(
        http.get(f"/responses/{response_id}", params={"stream": "true", "include_obfuscation": "false"}).text
    )
    assert not any("obfuscation" in e["data"] for e in replay)
