"""Rate-limit storms, 5xx bursts and answers that never come: retried as the SDK contract says (429, 5xx and
timeouts, `max_retries` times), then one clear error naming what to do; the user's message is kept and the
turn recorded as failed or incomplete, never completed.

Retry-After: the SDK sleeps through a server's Retry-After of up to 2 minutes per retry without a word. The
library honours waits up to `max_retry_wait` (ASSISTANT_MAX_RETRY_WAIT, 10 s by default) and reports longer
ones at once, with the wait in the message, rather than hang for minutes.

Attempts are counted from the fault switch (what each storm had left), not from the clock."""

from __future__ import annotations

import asyncio

import pytest

from assistant import Assistant, RateLimited, ServerError, ServerUnreachable, TurnFailed
from assistant.config import load_settings
from assistant.errors import AssistantError
from tests.support.fixtures import TEST_KEY


def assistant_on(base_url: str, tmp_path, **options) -> Assistant:
    return Assistant(
        base_url=base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", strict_validation=True, **options
    )


def left_in_storm(server) -> int:
    """How many requests the pending fault would still hit (0 when it is used up)."""
    return sum(fault["count"] for fault in server.faults.pending())


def assert_failed_and_kept(thread, text: str) -> None:
    turn = thread.history()[-1]
    assert turn.status == "failed" and turn.input == text and turn.text == ""
    assert "completed" not in [t.status for t in thread.history() if t.input == text]


def test_a_429_storm_longer_than_the_retries_is_one_clear_error_with_the_wait(server, tmp_path):
    server.inject_fault(status=429, count=10, retry_after=0.01, path="/v1/responses")
    with assistant_on(server.base_url, tmp_path, max_retries=2) as assistant:
        thread = assistant.thread()
        with pytest.raises(RateLimited) as caught:
            thread.ask("are you there?")
        # The first try and two retries, then no more.
        assert left_in_storm(server) == 10 - 3
        message = str(caught.value)
        assert "429" in message and "Try again in 1 s" in message and "\n" not in message
        assert caught.value.retry_after == 1
        assert caught.value.turn.id == thread.history()[-1].id
        assert_failed_and_kept(thread, "are you there?")
        server.clear_faults()
        # Once the storm is over the same thread goes on.
        assert thread.ask("and now?").status == "completed"


@pytest.mark.parametrize("retry_after", [60, 300])  # within the SDK's 2-minute limit, and beyond it
def test_a_long_retry_after_is_reported_at_once_not_slept_through(server, tmp_path, retry_after):
    server.inject_fault(status=429, count=5, retry_after=retry_after, path="/v1/responses")
    with assistant_on(server.base_url, tmp_path, max_retries=2) as assistant:
        thread = assistant.thread()
        with pytest.raises(RateLimited, match=rf"Try again in {retry_after} s") as caught:
            thread.ask("hello")
        assert left_in_storm(server) == 5 - 1  # one attempt: the client did not sleep to retry
        assert caught.value.retry_after == retry_after
        assert_failed_and_kept(thread, "hello")


def test_max_retry_wait_decides_which_waits_are_slept_through(server, tmp_path):
    server.inject_fault(status=429, count=2, retry_after=0.5, path="/v1/responses")
    with assistant_on(server.base_url, tmp_path, max_retries=2, max_retry_wait=1) as assistant:
        assert assistant.thread().ask("patient").status == "completed"
    assert left_in_storm(server) == 0
    server.inject_fault(status=429, count=2, retry_after=0.5, path="/v1/responses")
    with (
        assistant_on(server.base_url, tmp_path, max_retries=2, max_retry_wait=0.1) as assistant,
        pytest.raises(RateLimited),
    ):
        assistant.thread().ask("impatient")
    assert left_in_storm(server) == 1


def test_retry_settings_come_from_the_environment():
    settings = load_settings(
        {"ASSISTANT_TIMEOUT": "2.5", "ASSISTANT_MAX_RETRIES": "4", "ASSISTANT_MAX_RETRY_WAIT": "30"}, dotenv_path=""
    )
    assert (settings.timeout, settings.max_retries, settings.max_retry_wait) == (2.5, 4, 30)
    for bad in (
        {"ASSISTANT_TIMEOUT": "0"},
        {"ASSISTANT_TIMEOUT": "soon"},
        {"ASSISTANT_MAX_RETRIES": "-1"},
        {"ASSISTANT_MAX_RETRY_WAIT": "nan"},
    ):
        [(name, value)] = bad.items()
        with pytest.raises(AssistantError, match=f"{name}={value!r} is not valid"):
            load_settings(bad, dotenv_path="")


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_burst_shorter_than_the_retries_succeeds(server, tmp_path, status):
    server.inject_fault(status=status, count=2, retry_after=0.01, path="/v1/responses")
    with assistant_on(server.base_url, tmp_path, max_retries=2) as assistant:
        thread = assistant.thread()
        turn = thread.ask("hello through the burst")
        assert [t.status for t in thread.history()] == ["completed"]
    assert turn.status == "completed" and turn.text
    assert left_in_storm(server) == 0


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_burst_longer_than_the_retries_is_surfaced(server, tmp_path, status):
    server.inject_fault(status=status, count=6, retry_after=0.01, path="/v1/responses")
    with assistant_on(server.base_url, tmp_path, max_retries=2) as assistant:
        thread = assistant.thread()
        with pytest.raises(ServerError, match=rf"answered {status}: The server had an error") as caught:
            thread.ask("hello into the burst")
        assert_failed_and_kept(thread, "hello into the burst")
    assert left_in_storm(server) == 6 - 3
    assert "\n" not in str(caught.value)


def test_a_503_asking_for_a_long_wait_says_how_long(server, tmp_path):
    server.inject_fault(status=503, count=3, retry_after=45, path="/v1/responses")
    with assistant_on(server.base_url, tmp_path, max_retries=2) as assistant:
        thread = assistant.thread()
        with pytest.raises(ServerError, match=r"answered 503: .* Try again in 45 s\."):
            thread.ask("hello")
        assert_failed_and_kept(thread, "hello")
    assert left_in_storm(server) == 3 - 1


# Answers that never come. The provider holds the request (or the rest of a stream) until the test ends, so
# any timeout is shorter than the silence; the timeout is generous enough for the answers that do come.
TIMEOUT_S = 3.0


def test_a_response_that_never_arrives_is_a_clear_timeout_error(provider, tmp_path):
    provider.hold("POST", "^/v1/responses")
    with assistant_on(provider.base_url, tmp_path, max_retries=0, timeout=TIMEOUT_S) as assistant:
        thread = assistant.thread()
        with pytest.raises(ServerUnreachable) as caught:
            thread.ask("hello?")
        assert_failed_and_kept(thread, "hello?")
    message = str(caught.value)
    assert f"did not answer within {TIMEOUT_S:g} s" in message and "ASSISTANT_TIMEOUT" in message
    assert provider.held == 1


def test_a_timeout_is_retried_and_the_retry_can_succeed(provider, tmp_path):
    provider.hold("POST", "^/v1/responses", count=1)
    with assistant_on(provider.base_url, tmp_path, max_retries=1, timeout=TIMEOUT_S) as assistant:
        thread = assistant.thread()
        turn = thread.ask("second time lucky")
        assert provider.held == 1 and turn.status == "completed"
        # The held request never reached the server: one answer, one turn, and the conversation holds it once.
        assert [t.status for t in thread.history()] == ["completed"]
        assert thread.ask("what did I say first?").text == 'You first said: "second time lucky"'


def test_a_stream_that_stalls_half_way_is_incomplete_with_what_arrived(provider, tmp_path):
    with assistant_on(provider.base_url, tmp_path, max_retries=2, timeout=TIMEOUT_S) as assistant:
        thread = assistant.thread()
        thread.ask("remember the word quince")
        provider.stall_next_stream(after_events=8)
        deltas = []
        with pytest.raises(TurnFailed) as caught:
            for event in thread.stream("count to 100"):
                if event.type == "text.delta":
                    deltas.append(event.text)
        message = str(caught.value)
        assert f"nothing more arrived for {TIMEOUT_S:g} s" in message and "ASSISTANT_TIMEOUT" in message
        turn = caught.value.turn
        assert turn.status == "incomplete" and deltas and turn.text == "".join(deltas)
        assert turn.input == "count to 100"
        # A stall mid-stream is not retried (the SDK never retries a stream once it has started).
        assert [t.status for t in thread.history()] == ["completed", "incomplete"]
        assert thread.ask("what did I say first?").text == 'You first said: "remember the word quince"'


def test_the_async_path_times_out_the_same_way(provider, tmp_path):
    provider.hold("POST", "^/v1/responses")

    async def ask() -> None:
        async with assistant_on(provider.base_url, tmp_path, max_retries=0, timeout=TIMEOUT_S) as assistant:
            thread = assistant.thread()
            with pytest.raises(ServerUnreachable, match=f"within {TIMEOUT_S:g} s"):
                await thread.aask("hello, async")
            assert_failed_and_kept(thread, "hello, async")

    asyncio.run(ask())
