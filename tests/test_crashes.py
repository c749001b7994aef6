"""Real processes dying mid-answer: the user's message is never lost, the turn is closed honestly with what
had arrived, and the thread goes on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from openai import OpenAI

from assistant import Assistant, TurnFailed
from tests.conftest import environment

LONG_ANSWER = "count to 200000"  # long enough to be mid-stream whenever we strike


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server_process(db: Path, port: int):
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--db", str(db)],
        env=environment(ASSISTANT_DB=str(db.with_name("unused-index.db"))),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
    process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ask", LONG_ANSWER], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
