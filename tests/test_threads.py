"""Stateful threads through the library, against the local server over real HTTP (strict SDK validation)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from openai import OpenAI

from assistant import Assistant, AssistantError, ThreadNotFound
from tests.support.cli import environment
from tests.support.fixtures import TEST_KEY
from tests.support.index_backends import index_location


def compact_json_size(body: dict) -> int:
    """Bytes of a JSON body as the SDK sends it (compact separators; key order does not change the size)."""
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def server_items(server, conversation_id: str) -> list[dict]:
    with OpenAI(base_url=server.base_url, api_key=TEST_KEY, _strict_response_validation=True) as client:
        return [item.to_dict(mode="json") for item in client.conversations.items.list(conversation_id, order="asc")]


def test_conversation_mode_three_turns_state_lives_on_the_server(assistant, server):
    thread = assistant.thread(title="support")
    first = thread.ask("my name is Ada")
    second = thread.ask("I like sailing")
    third = thread.ask("What did I say first?")

    # The reference engine only sees what the server prepended: the first message came from the conversation.
    assert third.text == 'You first said: "my name is Ada"'
    assert thread.conversation_id and thread.conversation_id.startswith("conv_")
    assert {first.conversation_id, second.conversation_id, third.conversation_id} == {thread.conversation_id}
    assert [turn.status for turn in (first, second, third)] == ["completed"] * 3
    assert third.usage.input_tokens > first.usage.input_tokens > 0  # the server bills the prepended history

    # The index holds every item, in order, equal to what the server lists back for the conversation.
    history = thread.history()
    assert [turn.seq for turn in history] == [1, 2, 3]
    indexed = [item for turn in history for item in turn.items]
    listed = server_items(server, thread.conversation_id)
    assert [(item.type, item.direction) for item in indexed] == [("message", "input"), ("message", "output")] * 3
    assert [item["type"] for item in listed] == [item.type for item in indexed]
    assert [item.get("role") for item in listed] == [item.data.get("role") for item in indexed]
    assert [item["content"][0]["text"] for item in listed] == [item.data["content"][0]["text"] for item in indexed]
    # Output items carry the server's ids; the server's copy is the same item.
    for mine, theirs in zip(indexed, listed, strict=False):
        if mine.direction == "output":
            assert mine.item_id == theirs["id"]
            assert mine.data == theirs


def test_only_new_input_is_sent_after_the_first_turn(assistant):
    thread = assistant.thread()
    long_message = "a fairly long first message " * 40
    first = thread.ask(long_message)
    second = thread.ask("short")
    third = thread.ask("short")
    model = thread.model
    create_conversation = {"metadata": {"thread_id": thread.id, "title": ""}}
    turn_body = {"model": model, "input": long_message, "stream": True, "conversation": thread.conversation_id}
    assert first.request_bytes == compact_json_size(create_conversation) + compact_json_size(turn_body)
    short_body = {"model": model, "input": "short", "stream": True, "conversation": thread.conversation_id}
    # Turns 2 and 3 send exactly the new input: the history (and the long first message) is not re-sent.
    assert second.request_bytes == third.request_bytes == compact_json_size(short_body)


def test_chain_mode_three_turns(assistant):
    thread = assistant.thread(mode="chain")
    first = thread.ask("alpha")
    second = thread.ask("beta")
    third = thread.ask("what did I say first?")
    assert third.text == 'You first said: "alpha"'
    assert thread.conversation_id is None
    assert first.previous_response_id is None
    assert second.previous_response_id == first.response_id
    assert third.previous_response_id == second.response_id
    assert thread.last_response_id == third.response_id
    body = {
        "model": thread.model,
        "input": "what did I say first?",
        "stream": True,
        "previous_response_id": second.response_id,
    }
    assert third.request_bytes == compact_json_size(body)


def test_instructions_are_sent_every_turn(assistant):
    thread = assistant.thread(instructions="Answer like a pirate.")
    thread.ask("hello")
    # The server never carries instructions over; the engine can only repeat them if turn 2 sent them again.
    assert "Answer like a pirate." in thread.ask("What are your instructions?").text


def test_a_fresh_process_resumes_the_thread_and_sends_only_new_input(assistant, server, tmp_path):
    thread = assistant.thread(title="resume me")
    thread.ask("the password is swordfish")
    conversation_id = thread.conversation_id
    script = textwrap.dedent(f"""
        import json
        from assistant import Assistant
        with Assistant(base_url={server.base_url!r}, api_key={TEST_KEY!r},
                       db_path={str(index_location(tmp_path / "index.db"))!r}, strict_validation=True) as a:
            t = a.thread(id={thread.id!r})
            turn = t.ask("What did I say first?")
            print(json.dumps({{"text": turn.text, "conversation_id": t.conversation_id,
                               "bytes": turn.request_bytes, "seq": turn.seq}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=environment()
    )
    assert result.returncode == 0, result.stderr
    resumed = json.loads(result.stdout)
    assert resumed["text"] == 'You first said: "the password is swordfish"'
    assert resumed["conversation_id"] == conversation_id
    assert resumed["seq"] == 2
    body = {"model": thread.model, "input": "What did I say first?", "stream": True, "conversation": conversation_id}
    assert resumed["bytes"] == compact_json_size(body)
    thread.refresh()
    assert [turn.seq for turn in thread.history()] == [1, 2]


def test_stream_yields_typed_events_in_order(assistant):
    thread = assistant.thread()
    events = list(thread.stream("hello events"))
    types = [event.type for event in events]
    assert types[0] == "turn.started"
    assert types[1] == "conversation.created"
    assert types[2] == "response.started"
    assert "text.delta" in types and types.count("text.delta") > 1
    assert types[-2] == "usage"
    assert types[-1] == "turn.completed"
    assert types.index("item.added") < types.index("text.delta") < types.index("item.done")
    turn = events[-1].turn
    assert "".join(event.text for event in events if event.type == "text.delta") == turn.text
    assert turn.ttft_ms is not None and turn.latency_ms >= turn.ttft_ms


async def test_async_twins(server, tmp_path):
    async with Assistant(
        base_url=server.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", strict_validation=True
    ) as assistant:
        thread = assistant.thread()
        first = await thread.aask("async hello")
        deltas = []
        async for event in thread.astream("what did I say first?"):
            if event.type == "text.delta":
                deltas.append(event.text)
        assert first.status == "completed"
        assert "".join(deltas) == 'You first said: "async hello"'
        assert [turn.status for turn in thread.history()] == ["completed", "completed"]


def test_threads_listing_and_search(assistant):
    older = assistant.thread(title="older")
    older.ask("the quick brown fox")
    newer = assistant.thread(title="newer")
    newer.ask("jumps over the lazy dog")
    assert [info.id for info in assistant.threads()][:2] == [newer.id, older.id]
    assert assistant.threads()[0].turn_count == 1
    hits = assistant.search("brown fox")
    assert [(hit.thread_id, hit.seq) for hit in hits] == [(older.id, 1)]
    assert "[brown]" in hits[0].snippet
    # Words are matched in answers too, and punctuation in the query is harmless.
    assert {hit.thread_id for hit in assistant.search('lazy "dog" -(')} == {newer.id}
    assert assistant.search("   ") == []


def test_unknown_thread_and_empty_message_are_clear_errors(assistant):
    with pytest.raises(ThreadNotFound, match="thr_missing"):
        assistant.thread("thr_missing")
    with pytest.raises(AssistantError, match="empty"):
        assistant.thread().ask("   ")
    with pytest.raises(ValueError, match="conversation, chain"):
        assistant.thread(mode="telepathy")


def test_max_output_tokens_gives_an_honest_incomplete_turn(assistant):
    thread = assistant.thread()
    turn = thread.ask("count to 500", max_output_tokens=20)
    assert turn.status == "incomplete"
    assert turn.incomplete_reason == "max_output_tokens"
    assert turn.text and turn.usage.output_tokens <= 20
    # An incomplete answer still joins the conversation: the next turn builds on it.
    assert thread.ask("what did I say first?").text == 'You first said: "count to 500"'


def test_breaking_out_of_a_stream_records_a_cancelled_turn_with_its_partial_text(assistant):
    thread = assistant.thread()
    stream = thread.stream("count to 200")
    received = []
    for event in stream:
        if event.type == "text.delta":
            received.append(event.text)
            if len(received) == 3:
                break
    stream.close()
    turn = thread.history()[-1]
    assert turn.status == "cancelled"
    assert turn.text == "".join(received)
    assert turn.input == "count to 200"


def test_rename_archive_model_and_delete(assistant, server):
    from openai import NotFoundError

    first = assistant.thread(title="first")
    first.ask("hello")
    second = assistant.thread(title="second")
    second.ask("hello again")
    first.rename("renamed")
    first.set_model("gpt-4o-mini")
    # Renaming is not activity: the order of the list does not change.
    assert [(t.id, t.title) for t in assistant.threads()] == [(second.id, "second"), (first.id, "renamed")]
    # The thread asks for gpt-4o-mini; the turn records the model that answered it (the local reference engine).
    assert first.model == "gpt-4o-mini" and first.ask("x").model == "reference"
    second.set_archived(True)
    assert [t.id for t in assistant.threads()] == [first.id]
    assert [t.id for t in assistant.threads(archived=True)] == [second.id]
    fork = first.fork(at_turn=1)
    conversation_id = first.conversation_id
    assistant.delete_thread(first.id)
    with pytest.raises(ThreadNotFound):
        assistant.thread(first.id)
    assert assistant.search("hello") and all(hit.thread_id != first.id for hit in assistant.search("hello"))
    with OpenAI(base_url=server.base_url, api_key=TEST_KEY) as client, pytest.raises(NotFoundError):
        client.conversations.retrieve(conversation_id)
    assert assistant.store.thread(fork.id).parent_id is None  # the fork keeps its copy, loses the link
    assert fork.ask("what did I say first?").text == 'You first said: "hello"'
