"""Two processes writing the same index at once (the TUI and a script, say): 2 writers x 1,000 turns through the
real library against one local server, started together, half of their turns into threads they share.

Nothing may be lost or surfaced: no "database is locked" (or any other) error, every turn recorded once as
completed with its items, and each thread's turns numbered 1..n without a gap or a repeat. And two writers taking
a new thread's first turn at the same moment end up in one server conversation, not one each."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import sys
from collections import Counter
from pathlib import Path

from assistant import Assistant
from tests.conftest import TEST_KEY, environment, index_location

WRITERS = 2
TURNS_PER_WRITER = 1000
WRITER_SCRIPT = Path(__file__).with_name("index_writer.py")


def test_two_writer_processes_lose_nothing_and_surface_no_lock_errors(server, tmp_path):
    db = tmp_path / "index.db"
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as assistant:
        shared = [assistant.thread(title=f"shared {n}") for n in range(2)]
        for thread in shared:  # the conversation exists before the writers race to use it
            thread.ask("shared thread, first turn")
        own = {name: [assistant.thread(title=f"{name} {n}").id for n in range(2)]
               for name in (f"writer{w}" for w in range(WRITERS))}

    writers = {
        name: subprocess.Popen(
            [sys.executable, str(WRITER_SCRIPT), server.base_url, str(index_location(db)), name, str(TURNS_PER_WRITER),
             shared[0].id, own[name][0], shared[1].id, own[name][1]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(),
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
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as one, \
            Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as other:
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
        said = [part.text for item in one.client.conversations.items.list(conversation_id, order="asc")
                if item.type == "message" and item.role == "user" for part in item.content]
        assert sorted(said) == ["message 0", "message 1"]
        assert one.thread(thread_id).ask("and now?").conversation_id == conversation_id


async def test_the_async_path_shares_one_conversation_too(server, tmp_path):
    db = tmp_path / "index.db"
    async with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as one, \
            Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=db) as other:
        thread_id = one.thread(title="new").id
        server.inject_fault(delay_s=1.0, path="/v1/conversations", method="POST", count=2)
        turns = await asyncio.gather(one.thread(thread_id).aask("message 0"), other.thread(thread_id).aask("message 1"))
        [conversation_id] = {turn.conversation_id for turn in turns}
        assert one.thread(thread_id).conversation_id == conversation_id
        said = [part.text for item in one.client.conversations.items.list(conversation_id, order="asc")
                if item.type == "message" and item.role == "user" for part in item.content]
        assert sorted(said) == ["message 0", "message 1"]
