"""What happens when the server misbehaves: every failure is a clear error, and the turn is recorded honestly
with the user's message and whatever arrived. Faults come from the local server's fault switch over real HTTP."""

from __future__ import annotations

import socket

import pytest

from assistant import (
    Assistant,
    AuthenticationFailed,
    ModelNotFound,
    RateLimited,
    ServerError,
    ServerUnreachable,
    TurnFailed,
)
from assistant.server import LocalServer
from tests.support.fixtures import TEST_KEY


def retrying_assistant(server, tmp_path, retries: int) -> Assistant:
    return Assistant(
        base_url=server.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        max_retries=retries,
        strict_validation=True,
    )


def test_a_stream_cut_mid_way_is_recorded_incomplete_with_its_partial_text(assistant, server):
    thread = assistant.thread()
    thread.ask("remember the word marmalade")
    server.inject_fault(cut_after_events=8, path="/v1/responses")
    deltas = []
    with pytest.raises(TurnFailed, match="broke off") as caught:
        for event in thread.stream("count to 100"):
            if event.type == "text.delta":
                deltas.append(event.text)
    turn = caught.value.turn
    assert turn is not None and turn.status == "incomplete"
    assert deltas and turn.text == "".join(deltas)  # what arrived is kept, nothing more
    assert turn.input == "count to 100" and turn.response_id
    assert [t.status for t in thread.history()] == ["completed", "incomplete"]
    # The thread still works, and the server kept its state from before the cut.
    assert thread.ask("what did I say first?").text == 'You first said: "remember the word marmalade"'


def test_429_is_retried_then_succeeds(server, tmp_path):
    server.inject_fault(status=429, count=2, retry_after=0.01, path="/v1/responses")
    with retrying_assistant(server, tmp_path, retries=2) as assistant:
        turn = assistant.thread().ask("hello after a rate limit")
    assert turn.status == "completed"
    # Three attempts went on the wire and all three were counted.
    assert turn.request_bytes > 0


def test_429_after_retries_is_a_clear_error_and_the_message_is_kept(server, tmp_path):
    server.inject_fault(status=429, count=3, retry_after=0.01, path="/v1/responses")
    with retrying_assistant(server, tmp_path, retries=1) as assistant:
        thread = assistant.thread()
        with pytest.raises(RateLimited, match=r"Rate limited .*429.* Try again in 1 s") as caught:
            thread.ask("please answer")
        turn = thread.history()[-1]
    assert caught.value.turn.id == turn.id
    assert turn.status == "failed" and turn.input == "please answer" and turn.text == ""
    assert "429" in turn.error


def test_500_is_retried_then_surfaced(server, tmp_path):
    server.inject_fault(status=500, count=1, path="/v1/responses")
    with retrying_assistant(server, tmp_path, retries=1) as assistant:
        assert assistant.thread().ask("hello after a 500").status == "completed"
    server.inject_fault(status=500, count=2, path="/v1/responses")
    with retrying_assistant(server, tmp_path, retries=1) as assistant, pytest.raises(ServerError, match="answered 500"):
        assistant.thread().ask("hello again")


def test_unknown_model_is_a_clear_error(assistant):
    thread = assistant.thread(model="gpt-imaginary")
    with pytest.raises(ModelNotFound, match="gpt-imaginary") as caught:
        thread.ask("hello")
    assert caught.value.turn.status == "failed"
    assert "reference" in assistant.models()


def test_rejected_key_is_a_clear_error_that_does_not_show_the_key(tmp_path):
    with LocalServer(db_path=tmp_path / "server.db", api_key="sk-the-right-key-0000000000") as server:
        wrong = "sk-wrong-key-abcdefghijklmnopqrstuvwxyz"
        with Assistant(
            base_url=server.base_url, api_key=wrong, db_path=tmp_path / "index.db", max_retries=0
        ) as assistant:
            thread = assistant.thread()
            with pytest.raises(AuthenticationFailed, match="rejected") as caught:
                thread.ask("hello")
            turn = thread.history()[-1]
    assert wrong not in str(caught.value)
    assert wrong not in (turn.error or "")
    assert "OPENAI_API_KEY" in str(caught.value)


def test_unreachable_server_names_the_base_url(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    base_url = f"http://127.0.0.1:{port}/v1"
    with Assistant(base_url=base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0) as assistant:
        thread = assistant.thread()
        with pytest.raises(ServerUnreachable, match=base_url.replace(".", r"\.")):
            thread.ask("anyone there?")
        assert thread.history()[-1].status == "failed"
