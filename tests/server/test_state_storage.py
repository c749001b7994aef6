"""How the server keeps its state: each item once, histories by reference, compact event logs (issue 19), with
everything the API serves unchanged: retrieval, input items, conversations, chains, replays, deletes, restarts,
and state files of the first layout."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from assistant.server import EngineRegistry, LocalServer
from assistant.server.engines import Finish, GenerationRequest, TextDelta, Usage
from assistant.server.state import StateFileTooNew

from .conftest import API_KEY, make_client, parse_sse

WORDS = [
    "invoice",
    "refund",
    "shipping",
    "latency",
    "database",
    "kernel",
    "network",
    "migration",
    "budget",
    "forecast",
    "report",
    "customer",
]


def user_text(seed: int, size: int) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < size:
        words.append(f"{rng.choice(WORDS)}{rng.randrange(1000)}")
    return " ".join(words)[:size]


def state_bytes(db: Path) -> int:
    """The state file with its WAL and shared-memory files, and the folder of files beside it."""
    paths = [path for path in db.parent.glob(db.name + "*") if path.is_file()]
    folder = db.parent / (db.stem + ".files")
    paths += [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []
    return sum(path.stat().st_size for path in paths)


def raw_client(server: LocalServer) -> httpx2.Client:
    return httpx2.Client(base_url=server.base_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=30)


def streamed(http: httpx2.Client, **body: Any) -> list[dict[str, Any]]:
    response = http.post("/responses", json={"model": "reference", "stream": True, **body})
    assert response.status_code == 200, response.text
    return [event["data"] for event in parse_sse(response.text)]


def replayed(http: httpx2.Client, response_id: str, **params: str) -> list[dict[str, Any]]:
    response = http.get(f"/responses/{response_id}", params={"stream": "true", **params})
    assert response.status_code == 200, response.text
    return [event["data"] for event in parse_sse(response.text)]


@pytest.mark.parametrize("mode", ["conversation", "previous_response_id"])
def test_100_turns_of_10_kb_take_under_three_times_the_text(tmp_path: Path, mode: str) -> None:
    # Each response used to keep a copy of its whole prompt and of its event log: 59x the text.
    db = tmp_path / "server.db"
    texts = [user_text(turn, 10 * 1024) for turn in range(100)]
    with LocalServer(db) as server, make_client(server) as client:
        conversation = client.conversations.create().id if mode == "conversation" else None
        previous = None
        for text in texts:
            previous = client.responses.create(
                model="reference",
                input=text,
                conversation=conversation,
                previous_response_id=previous if conversation is None else None,
            ).id
        first = client.responses.create(
            model="reference",
            input="what did I say first?",
            conversation=conversation,
            previous_response_id=previous if conversation is None else None,
        )
        count = client.responses.create(
            model="reference",
            input="how many messages?",
            conversation=conversation,
            previous_response_id=first.id if conversation is None else None,
        )
    assert first.output_text == f'You first said: "{texts[0]}"'
    assert count.output_text == "You have sent me 203 messages."
    said = sum(len(text.encode()) for text in texts)
    assert state_bytes(db) < 3 * said, f"{state_bytes(db) / said:.2f}x the text"


def test_long_answers_take_little_more_than_their_text(tmp_path: Path) -> None:
    # An event log kept in full repeats its answer about five times, plus a few hundred bytes per delta.
    db = tmp_path / "server.db"
    with LocalServer(db) as server, make_client(server) as client:
        answers = [client.responses.create(model="reference", input="repeat 2000 words").output_text for _ in range(20)]
    said = sum(len(answer.encode()) for answer in answers)
    assert state_bytes(db) < 2 * said, f"{state_bytes(db) / said:.2f}x the answers"


def test_replays_are_the_streams_as_sent_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ]
    with LocalServer(db) as server, raw_client(server) as http:
        streams = [
            streamed(http, input="repeat 300 words"),
            streamed(http, input="repeat 300 words", max_output_tokens=40),  # incomplete
            streamed(http, input="count to 5", stream_options={"include_obfuscation": False}),
            streamed(http, input="What is the weather in Paris? Use get_weather.", tools=tools),
            streamed(http, input="hello", background=True),
        ]
        assert streams[3][-1]["response"]["output"][0]["type"] == "function_call"
        for events in streams:
            assert replayed(http, events[0]["response"]["id"]) == events
    with LocalServer(db) as server, raw_client(server) as http:
        for events in streams:
            response_id = events[0]["response"]["id"]
            assert replayed(http, response_id) == events
            assert replayed(http, response_id, starting_after="3") == events[4:]
            assert replayed(http, response_id, include_obfuscation="false") == [
                {key: value for key, value in event.items() if key != "obfuscation"} for event in events
            ]
            assert http.get(f"/responses/{response_id}").json() == events[-1]["response"]


def test_a_deleted_response_keeps_what_later_responses_and_conversations_need(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    with LocalServer(db) as server, make_client(server) as client:
        first = client.responses.create(model="reference", input="first words")
        second = client.responses.create(model="reference", input="second words", previous_response_id=first.id)
        third = client.responses.create(model="reference", input="third words", previous_response_id=second.id)
        client.responses.delete(second.id)
        client.responses.delete(first.id)
        for deleted in (first.id, second.id):
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(deleted)
            with pytest.raises(openai.NotFoundError):
                client.responses.input_items.list(deleted)
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(deleted, stream=True)
            with pytest.raises(openai.BadRequestError):
                client.responses.create(model="reference", input="x", previous_response_id=deleted)
        later = client.responses.create(model="reference", input="what did i say first", previous_response_id=third.id)
        assert later.output_text == 'You first said: "first words"'
        count = client.responses.create(model="reference", input="how many messages", previous_response_id=third.id)
        assert count.output_text == "You have sent me 7 messages."

        conversation = client.conversations.create()
        in_conversation = client.responses.create(model="reference", input="kept words", conversation=conversation.id)
        client.responses.delete(in_conversation.id)
        items = client.conversations.items.list(conversation.id, order="asc")
        assert [item.content[0].text for item in items] == ["kept words", in_conversation.output_text]

        # Once nothing refers to them any more, the items go: only the conversation's two are left.
        for response in (later, count, third):
            client.responses.delete(response.id)
        with sqlite3.connect(db) as state:
            assert state.execute("SELECT count(*) FROM items").fetchone()[0] == 2


def test_a_chain_from_a_conversation_response_sees_the_conversation_as_it_was(tmp_path: Path) -> None:
    with LocalServer(tmp_path / "server.db") as server, make_client(server) as client:
        conversation = client.conversations.create(items=[{"role": "user", "content": "hello there"}])
        made = client.responses.create(model="reference", input="and more", conversation=conversation.id)
        client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "added later"}])
        hello = client.conversations.items.list(conversation.id, order="asc").data[0]
        client.conversations.items.delete(hello.id, conversation_id=conversation.id)

        first = client.responses.create(model="reference", input="what did I say first", previous_response_id=made.id)
        assert first.output_text == 'You first said: "hello there"'
        count = client.responses.create(model="reference", input="how many messages", previous_response_id=made.id)
        assert count.output_text == "You have sent me 4 messages."
        now = client.responses.create(model="reference", input="what did I say first", conversation=conversation.id)
        assert now.output_text == 'You first said: "and more"'
        with pytest.raises(openai.NotFoundError):
            client.conversations.items.retrieve(hello.id, conversation_id=conversation.id)
        client.conversations.items.create(conversation.id, items=[hello.model_dump(exclude_none=True)])
        texts = [item.content[0].text for item in client.conversations.items.list(conversation.id, order="asc")]
        assert texts[0] == "and more" and texts[-1] == "hello there"  # added again: at the end


def test_one_item_id_sent_with_other_content_is_kept_as_each_was_sent(client: openai.OpenAI) -> None:
    one = client.responses.create(model="reference", input=[{"id": "msg_same", "role": "user", "content": "one"}])
    two = client.responses.create(model="reference", input=[{"id": "msg_same", "role": "user", "content": "two"}])
    assert [item.content[0].text for item in client.responses.input_items.list(one.id)] == ["one"]
    assert [item.content[0].text for item in client.responses.input_items.list(two.id)] == ["two"]
    assert one.output_text == "Reference reply to: one" and two.output_text == "Reference reply to: two"


class SlowEngine:
    """One word every 20 ms, so a background response is still running when the test deletes it."""

    def generate(self, request: GenerationRequest) -> Iterator[TextDelta | Finish]:
        for index in range(25):
            time.sleep(0.02)
            yield TextDelta(f"w{index} ")
        yield Finish(Usage(input_tokens=1, output_tokens=25))


def test_a_response_deleted_while_it_runs_stays_deleted(tmp_path: Path) -> None:
    registry = EngineRegistry()
    registry.register(SlowEngine(), ["slow"])
    db = tmp_path / "server.db"
    with LocalServer(db, engines=registry) as server, make_client(server) as client:
        created = client.responses.create(model="slow", input="x", background=True)
        time.sleep(0.1)
        client.responses.delete(created.id)
        time.sleep(0.6)  # it finishes meanwhile, and saves itself
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)
    with sqlite3.connect(db) as state:  # and its items were not stored again
        assert state.execute("SELECT count(*) FROM items").fetchone()[0] == 0


# -- state files of the first layout --------------------------------------------------------------------------

# The first layout, as store.py wrote it before issue 19: each response held its prompt and event log in full.
FIRST_LAYOUT = """
CREATE TABLE conversations (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, metadata TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE conversation_items (seq INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL,
    item_id TEXT NOT NULL, item TEXT NOT NULL, UNIQUE (conversation_id, item_id));
CREATE TABLE responses (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, body TEXT NOT NULL,
    input_items TEXT NOT NULL, context TEXT NOT NULL, events TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
"""


def write_first_layout(
    path: Path,
    conversation: dict[str, Any],
    members: list[dict[str, Any]],
    responses: list[tuple[dict[str, Any], list[dict], list[dict], list[dict], int]],
) -> None:
    with sqlite3.connect(path) as state:
        state.executescript(FIRST_LAYOUT)
        state.execute(
            "INSERT INTO conversations (id, created_at, metadata) VALUES (?, ?, ?)",
            (conversation["id"], conversation["created_at"], json.dumps(conversation["metadata"])),
        )
        state.executemany(
            "INSERT INTO conversation_items (conversation_id, item_id, item) VALUES (?, ?, ?)",
            [(conversation["id"], item["id"], json.dumps(item)) for item in members],
        )
        state.executemany(
            "INSERT INTO responses (id, created_at, body, input_items, context, events, deleted)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    body["id"],
                    body["created_at"],
                    json.dumps(body),
                    json.dumps(inputs),
                    json.dumps(context),
                    json.dumps(events),
                    deleted,
                )
                for body, inputs, context, events, deleted in responses
            ],
        )


def test_a_state_file_of_the_first_layout_is_migrated_with_everything_it_served(tmp_path: Path) -> None:
    # Real objects and streams from a server, written as the first layout kept them.
    with LocalServer(tmp_path / "source.db") as server, raw_client(server) as http:
        conversation = http.post("/conversations", json={"metadata": {"k": "v"}}).json()
        in_conversation = streamed(http, input="hello there", conversation=conversation["id"])
        members = http.get(f"/conversations/{conversation['id']}/items", params={"order": "asc"}).json()["data"]
        first = streamed(http, input="first words")
        second = streamed(http, input="second words", previous_response_id=first[-1]["response"]["id"])
        gone = streamed(http, input="deleted words")
    bodies = [events[-1]["response"] for events in (in_conversation, first, second, gone)]
    inputs = [[members[0]]] + [
        [
            {
                "id": f"msg_in{index}",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        ]
        for index, text in enumerate(("first words", "second words", "deleted words"))
    ]
    second_context = inputs[1] + bodies[1]["output"] + inputs[2]
    running = {
        **bodies[3],
        "id": "resp_running",
        "status": "in_progress",
        "output": [],
        "usage": None,
        "completed_at": None,
    }
    db = tmp_path / "server.db"
    write_first_layout(
        db,
        conversation,
        members,
        [
            (bodies[0], inputs[0], inputs[0], in_conversation, 0),
            (bodies[1], inputs[1], inputs[1], first, 0),
            (bodies[2], inputs[2], second_context, second, 0),
            (bodies[3], inputs[3], inputs[3], gone, 1),
            (running, inputs[3], inputs[3], gone[:2], 0),
        ],
    )

    with LocalServer(db) as server, raw_client(server) as http, make_client(server) as client:
        for body, own_input, events in zip(bodies[:3], inputs, (in_conversation, first, second), strict=False):
            assert http.get(f"/responses/{body['id']}").json() == body
            assert replayed(http, body["id"]) == events
            listed = http.get(f"/responses/{body['id']}/input_items", params={"order": "asc"}).json()["data"]
            assert listed == own_input
        assert http.get(f"/conversations/{conversation['id']}").json() == conversation
        assert http.get(f"/conversations/{conversation['id']}/items", params={"order": "asc"}).json()["data"] == members
        assert http.get(f"/responses/{bodies[3]['id']}").status_code == 404
        failed = http.get("/responses/resp_running").json()
        assert failed["status"] == "failed" and "restarted" in failed["error"]["message"]
        assert replayed(http, "resp_running") == gone[:2]

        chained = client.responses.create(
            model="reference", input="how many messages", previous_response_id=bodies[2]["id"]
        )
        assert chained.output_text == "You have sent me 5 messages."
        again = client.responses.create(
            model="reference", input="what did I say first?", conversation=conversation["id"]
        )
        assert again.output_text == 'You first said: "hello there"'
    with sqlite3.connect(db) as state:
        assert [row[0] for row in state.execute("SELECT name FROM server_migrations ORDER BY rowid")] == [
            "m001_conversations_responses",
            "m002_items_stored_once",
        ]
    with LocalServer(db) as server, raw_client(server) as http:  # opened again: nothing left to migrate
        assert replayed(http, bodies[2]["id"]) == second


def test_a_state_file_from_a_newer_version_is_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    with LocalServer(db):
        pass
    with sqlite3.connect(db) as state:
        state.execute("INSERT INTO server_migrations (name, applied_at) VALUES ('m999_from_the_future', 0)")
    before = db.read_bytes()
    with pytest.raises(StateFileTooNew, match=r"newer version of assistant .*'m999_from_the_future'"):
        LocalServer(db).start()
    assert db.read_bytes() == before
