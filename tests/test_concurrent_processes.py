"""Two processes writing the same index at once (the TUI and a script, say): 2 writers x 1,000 turns through the
real library against one local server, started together, half of their turns into threads they share.

Nothing may be lost or surfaced: no "database is locked" (or any other) error, every turn recorded once as
completed with its items, and each thread's turns numbered 1..n without a gap or a repeat. And two writers taking
a new thread's first turn at the same moment end up in one server conversation, not one each; two continuing one
chain head at the same moment end up in one chain, not a fork (the thread's lease)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from assistant import Assistant, AssistantError
from assistant.index.store import IndexStore, Lease
from tests.support.cli import environment
from tests.support.fixtures import TEST_KEY
from tests.support.index_backends import index_location

WRITERS = 2
TURNS_PER_WRITER = 1000
WRITER_SCRIPT = Path(__file__).with_name("index_writer.py")


def test_two_writer_processes_lose_nothing_and_surface_no_lock_errors(server, tmp_path):
    db = tmp_path / "index.db"
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as assistant:
        shared = [assistant.thread(title=f"shared {n}") for n in range(2)]
        for thread in shared:  # the conversation exists before the writers race to use it
            thread.ask("shared thread, first turn")
        own = {
            name: [assistant.thread(title=f"{name} {n}").id for n in range(2)]
            for name in (f"writer{w}" for w in range(WRITERS))
        }

    writers = {
        name: subprocess.Popen(
            [
                sys.executable,
                str(WRITER_SCRIPT),
                server.base_url,
                str(index_location(db)),
                name,
                str(TURNS_PER_WRITER),
                shared[0].id,
                own[name][0],
                shared[1].id,
                own[name][1],
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        for name in own
    }
    for writer in writers.values():
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers.values():  # both start at once
        writer.stdin.write("go\n")
        writer.stdin.flush()
    reports = {}
    for name, writer in writers.items():
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err, err
        reports[name] = json.loads(out.strip().splitlines()[-1])

    assert {name: report["errors"] for name, report in reports.items()} == {name: [] for name in writers}

    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as assistant:
        histories = {info.id: assistant.store.turns(info.id) for info in assistant.threads(limit=100)}
    turns = [turn for history in histories.values() for turn in history]
    assert len(histories) == 2 + 2 * WRITERS
    assert len(turns) == WRITERS * TURNS_PER_WRITER + len(shared)
    for thread_id, history in histories.items():
        assert [turn.seq for turn in history] == list(range(1, len(history) + 1)), thread_id
    assert Counter(turn.status for turn in turns) == {"completed": len(turns)}
    # Each question once, with its answer and the items that make it up (the user's message and the reply).
    inputs = Counter(turn.input for turn in turns if turn.input.startswith("writer"))
    expected = {f"{name} turn {number}" for name in writers for number in range(TURNS_PER_WRITER)}
    assert set(inputs) == expected and set(inputs.values()) == {1}
    for turn in turns:
        assert turn.text == f"Reference reply to: {turn.input}", turn.id
        assert {item.direction for item in turn.items} == {"input", "output"}, turn.id
        assert turn.response_id and turn.conversation_id
    # Both writers really did interleave in the shared threads.
    for thread in shared:
        writers_seen = {turn.input.split()[0] for turn in histories[thread.id][1:]}
        assert writers_seen == set(writers)


def test_two_writers_taking_a_new_threads_first_turn_at_once_share_one_conversation(server, tmp_path):
    """Both find the thread without a conversation and each creates one (held a second on the server, so both
    have looked before either is recorded): the first recorded wins and the other turn goes to it too."""
    db = tmp_path / "index.db"
    with (
        Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as one,
        Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as other,
    ):
        thread_id = one.thread(title="new").id
        threads = [one.thread(thread_id), other.thread(thread_id)]
        server.inject_fault(delay_s=1.0, path="/v1/conversations", method="POST", count=2)
        start = threading.Barrier(2)
        turns = {}

        def ask(thread, text):
            start.wait()
            turns[text] = thread.ask(text)

        workers = [threading.Thread(target=ask, args=(thread, f"message {n}")) for n, thread in enumerate(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        assert set(turns) == {"message 0", "message 1"}
        [conversation_id] = {turn.conversation_id for turn in turns.values()}
        assert one.thread(thread_id).conversation_id == conversation_id
        # The shared conversation holds both messages, so the next turn's model sees both.
        said = [
            part.text
            for item in one.client.conversations.items.list(conversation_id, order="asc")
            if item.type == "message" and item.role == "user"
            for part in item.content
        ]
        assert sorted(said) == ["message 0", "message 1"]
        assert one.thread(thread_id).ask("and now?").conversation_id == conversation_id


async def test_the_async_path_shares_one_conversation_too(server, tmp_path):
    db = tmp_path / "index.db"
    async with (
        Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as one,
        Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as other,
    ):
        thread_id = one.thread(title="new").id
        server.inject_fault(delay_s=1.0, path="/v1/conversations", method="POST", count=2)
        turns = await asyncio.gather(one.thread(thread_id).aask("message 0"), other.thread(thread_id).aask("message 1"))
        [conversation_id] = {turn.conversation_id for turn in turns}
        assert one.thread(thread_id).conversation_id == conversation_id
        said = [
            part.text
            for item in one.client.conversations.items.list(conversation_id, order="asc")
            if item.type == "message" and item.role == "user"
            for part in item.content
        ]
        assert sorted(said) == ["message 0", "message 1"]


# chain mode: one turn at a time on a thread (its lease)


def chain_of(assistant: Assistant, thread_id: str) -> list:
    """The thread's turns, each checked to continue the response of the turn before it."""
    turns = assistant.store.turns(thread_id)
    assert [turn.status for turn in turns] == ["completed"] * len(turns)
    for before, after in pairwise(turns):
        assert after.previous_response_id == before.response_id, (before.seq, after.seq)
    assert assistant.store.thread(thread_id).last_response_id == turns[-1].response_id
    return turns


def lease_of(assistant: Assistant, thread_id: str) -> dict:
    [row] = assistant.store.connection.rows(
        "SELECT lease_owner, lease_token FROM threads WHERE id = :id", {"id": thread_id}
    )
    return row


def test_two_processes_continuing_one_chain_head_at_once_keep_one_chain(server, tmp_path):
    """Both would read the same chain head and continue it (each request held half a second on the server, so
    both have read it before either is recorded), forking the chain on the server; the thread's lease makes one
    wait for the other's answer and continue from it."""
    db = tmp_path / "index.db"
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as assistant:
        thread = assistant.thread(title="chain", mode="chain")
        thread.ask("first turn")
    server.inject_fault(delay_s=0.5, path="/v1/responses", method="POST", count=4)
    writers = {
        name: subprocess.Popen(
            [sys.executable, str(WRITER_SCRIPT), server.base_url, str(index_location(db)), name, "2", thread.id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        for name in ("one", "two")
    }
    for writer in writers.values():
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers.values():
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers.values():
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0 and "Traceback" not in err, err
        assert json.loads(out.strip().splitlines()[-1]) == {"errors": []}
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as assistant:
        turns = chain_of(assistant, thread.id)
        assert len(turns) == 5 and {turn.input.split()[0] for turn in turns[1:]} == {"one", "two"}
        assert lease_of(assistant, thread.id) == {"lease_owner": None, "lease_token": None}


async def test_the_async_path_keeps_one_chain_too(server, tmp_path):
    db = tmp_path / "index.db"
    async with (
        Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as one,
        Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as other,
    ):
        thread_id = one.thread(title="chain", mode="chain").id
        await one.thread(thread_id).aask("first turn")
        server.inject_fault(delay_s=0.5, path="/v1/responses", method="POST", count=2)
        await asyncio.gather(one.thread(thread_id).aask("message 0"), other.thread(thread_id).aask("message 1"))
        assert len(chain_of(one, thread_id)) == 3


def test_a_lease_left_by_a_process_that_died_is_taken_over(server, tmp_path):
    db = tmp_path / "index.db"
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db, timeout=30) as assistant:
        thread = assistant.thread(title="chain", mode="chain")
        thread.ask("first turn")
        # A process takes the lease for an hour and ends without letting go, as a killed one would.
        take = (
            "import sys; from datetime import timedelta; from assistant.index.store import IndexStore, Lease; "
            "IndexStore(sys.argv[1]).take_lease(Lease.new(sys.argv[2], timedelta(hours=1)))"
        )
        subprocess.run(
            [sys.executable, "-c", take, str(index_location(db)), thread.id], check=True, env=environment(), timeout=60
        )
        assert lease_of(assistant, thread.id)["lease_owner"] is not None
        thread.ask("second turn")  # at once, not in an hour
        assert len(chain_of(assistant, thread.id)) == 2
        assert lease_of(assistant, thread.id) == {"lease_owner": None, "lease_token": None}


def test_a_turn_waits_for_a_live_holder_up_to_the_timeout_then_says_so(server, tmp_path):
    db = tmp_path / "index.db"
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db, timeout=1) as assistant:
        thread = assistant.thread(title="chain", mode="chain")
        thread.ask("first turn")
        held = Lease.new(thread.id, timedelta(hours=1))  # another turn of this (live) process
        assert assistant.store.take_lease(held) is None
        with pytest.raises(AssistantError, match=rf"Thread {thread.id} is busy: a turn by process {os.getpid()} "):
            thread.ask("second turn")
        assert assistant.store.take_lease(held) is None  # still the holder's
        assistant.store.release_lease(held)
        thread.ask("second turn")
        assert [turn.input for turn in chain_of(assistant, thread.id)] == ["first turn", "second turn"]


def test_a_failed_turn_lets_go_of_the_lease(server, tmp_path):
    db = tmp_path / "index.db"
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db, max_retries=0, timeout=5) as assistant:
        thread = assistant.thread(title="chain", mode="chain")
        thread.ask("first turn")
        server.inject_fault(status=500, path="/v1/responses", method="POST", count=1)
        with pytest.raises(AssistantError):
            thread.ask("this one fails")
        assert lease_of(assistant, thread.id) == {"lease_owner": None, "lease_token": None}
        with pytest.raises(AssistantError, match="empty"):
            thread.ask("   ")  # refused before any lease is taken
        thread.ask("second turn")
        turns = assistant.store.turns(thread.id)
        assert [turn.status for turn in turns] == ["completed", "failed", "completed"]
        assert turns[2].previous_response_id == turns[0].response_id


def test_a_lease_holds_while_its_turn_shows_progress_and_lapses_after(tmp_path):
    store = IndexStore(tmp_path / "index.db")
    thread_id = store.create_thread(model="gpt-4.1-mini", mode="chain").id
    lapsed = Lease.new(thread_id, timedelta(seconds=-1))  # as if its holder had shown no progress for its hold
    assert store.take_lease(lapsed) is None
    mine = Lease.new(thread_id, timedelta(hours=1))
    assert store.take_lease(mine) is None  # a lapsed lease is taken
    other = Lease.new(thread_id, timedelta(hours=1))
    assert store.take_lease(other).token == mine.token  # a held one is not
    # Progress renews it: held from now for its hold again (here: a lease that would have lapsed at once).
    store.release_lease(mine)
    assert store.take_lease(lapsed) is None
    turn_id, _ = store.begin_turn(
        thread_id=thread_id,
        input_text="x",
        input_items=[],
        model="gpt-4.1-mini",
        backend="responses",
        mode="chain",
        conversation_id=None,
        previous_response_id=None,
    )
    store.save_progress(turn_id, [], lease=Lease(thread_id, lapsed.token, timedelta(hours=1)), output_text="so far")
    assert store.take_lease(other).token == lapsed.token
    store.release_lease(other)  # not its lease: nothing happens
    assert store.take_lease(other).token == lapsed.token
    store.close()
