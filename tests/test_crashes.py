"""Real processes dying mid-answer: the user's message is never lost, the turn is closed honestly with what
had arrived, and the thread goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from openai import OpenAI

from assistant import Assistant, TurnFailed
from assistant.index.store import IndexStore
from assistant.index.turn_owner import current_owner
from tests.support.cli import environment, free_port, start_cli

LONG_ANSWER = "count to 200000"  # long enough to be mid-stream whenever we strike


@contextmanager
def server_process(db: Path, port: int):
    process = start_cli(
        "serve",
        "--port",
        str(port),
        "--db",
        str(db),
        env=environment(ASSISTANT_DB=str(db.with_name("unused-index.db"))),
    )
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", max_retries=0)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.models.list()
            break
        except Exception:
            assert time.monotonic() < deadline and process.poll() is None, "server did not start"
            time.sleep(0.1)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
        client.close()


def test_the_server_killed_mid_stream_leaves_an_incomplete_turn_and_the_thread_goes_on(tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with Assistant(base_url=base_url, api_key="sk-test", db_path=tmp_path / "index.db", max_retries=0) as assistant:
        thread = assistant.thread()
        with server_process(tmp_path / "server.db", port) as server:
            thread.ask("remember the word quince")
            received = []
            try:
                for event in thread.stream(LONG_ANSWER):
                    if event.type == "text.delta":
                        received.append(event.text)
                        if len(received) == 50:
                            server.send_signal(signal.SIGKILL)
                raise AssertionError("the stream should have broken off")
            except TurnFailed as error:
                assert "broke off" in str(error)
        turn = thread.history()[-1]
        assert turn.status == "incomplete" and turn.input == LONG_ANSWER
        assert len(received) >= 50 and turn.text == "".join(received)
        # A new server process on the same state file: the conversation survived, without the broken turn.
        with server_process(tmp_path / "server.db", port):
            answer = thread.ask("what did I say first?")
            assert answer.text == 'You first said: "remember the word quince"'
            assert thread.ask("how many messages?").text == "You have sent me 5 messages."


def test_ctrl_c_in_the_cli_records_a_cancelled_turn_with_the_partial_answer(server, tmp_path):
    env = environment(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test", ASSISTANT_DB=str(tmp_path / "i.db"))
    process = start_cli("ask", LONG_ANSWER, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = b""
        while len(first) < 200:  # the answer is well under way
            chunk = os.read(process.stdout.fileno(), 4096)
            assert chunk, "the answer ended before it could be interrupted"
            first += chunk
        assert first.startswith(b"1 2 3")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, (stderr.decode()[-500:], len(stdout))
    assert b"cancelled" in stderr and b"Traceback" not in stderr
    with Assistant(base_url=server.base_url, api_key="sk-test", db_path=tmp_path / "i.db") as assistant:
        [thread] = assistant.threads()
        [turn] = assistant.thread(thread.id).history()
    assert turn.status == "cancelled" and turn.input == LONG_ANSWER
    shown = (first + stdout).decode()
    assert turn.text and shown.startswith(turn.text[:20])
    assert len(turn.text) >= len(first)


def test_the_client_killed_mid_stream_leaves_an_interrupted_turn_with_its_partial_text(server, tmp_path):
    index = tmp_path / "i.db"
    watcher = IndexStore(index)  # made (and migrated) before the client starts; read while the client writes it
    env = environment(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test", ASSISTANT_DB=str(index))
    process = start_cli("ask", LONG_ANSWER, env=env, stdout=subprocess.PIPE)
    try:
        # Strike once the answer has streamed long enough for its text so far to be in the index.
        deadline = time.monotonic() + 60
        saved = None
        while saved is None or not saved.text:
            assert time.monotonic() < deadline and process.poll() is None, "no partial text was recorded"
            time.sleep(0.1)
            threads = watcher.threads()  # the thread is made first, its turn once the request is ready to go
            turns = watcher.turns(threads[0].id) if threads else []
            saved = turns[0] if turns else None
        assert saved.status == "in_progress"
        process.send_signal(signal.SIGKILL)
        assert process.stdout is not None
        shown = process.stdout.read().decode()
        process.wait(timeout=10)
    finally:
        process.kill()
        watcher.close()
    assert process.returncode == -signal.SIGKILL

    with Assistant(base_url=server.base_url, api_key="sk-test", db_path=index) as assistant:
        [info] = assistant.threads()
        thread = assistant.thread(info.id)
        [turn] = thread.history()
        assert turn.input == LONG_ANSWER  # the user's message was never lost
        assert turn.status == "incomplete" and turn.incomplete_reason == "interrupted"
        assert "ended" in turn.error and turn.completed_at is not None
        assert turn.text.startswith("1 2 3") and shown.startswith(turn.text)  # what it had, as the user saw it
        answer = thread.ask("how many messages?")  # the thread goes on
        assert answer.status == "completed" and answer.seq == 2


def test_a_turn_of_a_live_process_or_another_host_is_left_in_progress(tmp_path):
    store = IndexStore(tmp_path / "index.db")
    thread = store.create_thread(title="t", mode="conversation", model="m")
    store.begin_turn(
        thread_id=thread.id,
        input_text="live",
        input_items=[],
        model="m",
        backend="responses",
        mode="conversation",
        conversation_id=None,
        previous_response_id=None,
    )
    elsewhere, _ = store.begin_turn(
        thread_id=thread.id,
        input_text="elsewhere",
        input_items=[],
        model="m",
        backend="responses",
        mode="conversation",
        conversation_id=None,
        previous_response_id=None,
    )
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone, _ = store.begin_turn(
        thread_id=thread.id,
        input_text="gone",
        input_items=[],
        model="m",
        backend="responses",
        mode="conversation",
        conversation_id=None,
        previous_response_id=None,
    )
    host, pid, started = current_owner().split(" ")
    store.update_turn(elsewhere, owner=f"another-host {pid} {started}")
    store.update_turn(gone, owner=f"{host} {dead.stdout.strip()} 1")
    store.close()

    store = IndexStore(tmp_path / "index.db")  # opening sweeps
    statuses = {turn.input: turn.status for turn in store.turns(thread.id)}
    assert statuses == {"live": "in_progress", "elsewhere": "in_progress", "gone": "incomplete"}
    store.close()
