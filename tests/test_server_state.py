"""Threads that survive the server: local mode, rebuilding lost server state, mode switches, forks, doctor."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import openai
import pytest
from openai import OpenAI

from assistant import Assistant, AssistantError
from assistant.doctor import check
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY
from tests.support.http_double import DoubleHandler, HttpDouble


@pytest.fixture
def sdk(server):
    with OpenAI(base_url=server.base_url, api_key=TEST_KEY, _strict_response_validation=True) as client:
        yield client


def conversation_texts(sdk, conversation_id: str) -> list[str]:
    items = sdk.conversations.items.list(conversation_id, order="asc")
    return [item.content[0].text for item in items if item.type == "message"]


def test_local_mode_keeps_nothing_on_the_server(assistant, sdk):
    thread = assistant.thread(mode="local")
    turns = [thread.ask("first words"), thread.ask("second words"), thread.ask("what did I say first?")]
    assert turns[-1].text == 'You first said: "first words"'
    assert thread.conversation_id is None
    for turn in turns:
        with pytest.raises(openai.NotFoundError):
            sdk.responses.retrieve(turn.response_id)  # store=false: the server kept nothing
    # The whole history is sent every turn, so the bytes grow with it.
    assert turns[0].request_bytes < turns[1].request_bytes < turns[2].request_bytes


def test_a_deleted_conversation_is_rebuilt_from_the_index(assistant, sdk):
    thread = assistant.thread()
    thread.ask("my favourite colour is teal")
    thread.ask("and my cat is called Miso")
    old_conversation = thread.conversation_id
    sdk.conversations.delete(old_conversation)

    events = list(thread.stream("what did I say first?"))
    notices = [event for event in events if event.type == "thread.state_rebuilt"]
    assert len(notices) == 1 and "conversation" in notices[0].reason
    turn = events[-1].turn
    assert turn.status == "completed"
    assert turn.text == 'You first said: "my favourite colour is teal"'  # the model saw the old history
    assert thread.conversation_id not in (None, old_conversation)
    assert turn.conversation_id == thread.conversation_id
    assert [change.kind for change in thread.changes()] == ["state_rebuilt"]
    # The new conversation holds the old history plus the new turn, and later turns are cheap again.
    assert conversation_texts(sdk, thread.conversation_id) == [
        "my favourite colour is teal",
        "Reference reply to: my favourite colour is teal",
        "and my cat is called Miso",
        "Reference reply to: and my cat is called Miso",
        "what did I say first?",
        'You first said: "my favourite colour is teal"',
    ]
    follow_up = thread.ask("short")
    assert follow_up.request_bytes < 200
    assert [t.status for t in thread.history()] == ["completed"] * 4


def test_an_expired_previous_response_is_rebuilt_from_the_index(assistant, sdk):
    thread = assistant.thread(mode="chain")
    thread.ask("alpha")
    second = thread.ask("beta")
    sdk.responses.delete(second.response_id)  # as if it had expired after 30 days
    turn = thread.ask("what did I say first?")
    assert turn.text == 'You first said: "alpha"'
    assert turn.previous_response_id is None  # sent with the whole history instead
    assert thread.last_response_id == turn.response_id  # ... and it is the new chain head
    assert thread.ask("how many messages?").text == "You have sent me 7 messages."
    assert [change.kind for change in thread.changes()] == ["state_rebuilt"]


async def test_rebuilding_works_in_the_async_twin(server, sdk, tmp_path):
    async with Assistant(
        base_url=server.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", strict_validation=True
    ) as assistant:
        thread = assistant.thread()
        await thread.aask("remember: zebra")
        sdk.conversations.delete(thread.conversation_id)
        types = [event.type async for event in thread.astream("what did I say first?")]
        assert "thread.state_rebuilt" in types and types[-1] == "turn.completed"
        assert thread.history()[-1].text == 'You first said: "remember: zebra"'


def test_switching_modes_loses_nothing(assistant, sdk):
    thread = assistant.thread()
    thread.ask("one")
    for mode in ("chain", "local", "chat", "conversation", "chain"):
        thread.set_mode(mode)
        assert thread.mode == mode
        assert thread.ask("what did I say first?").text == 'You first said: "one"'
    assert thread.ask("how many messages?").text == "You have sent me 13 messages."  # 6 turns + this one
    assert [change.detail for change in thread.changes()] == [
        "conversation -> chain",
        "chain -> local",
        "local -> chat",
        "chat -> conversation",
        "conversation -> chain",
    ]
    assert [turn.backend for turn in thread.history()] == ["responses"] * 3 + ["chat"] + ["responses"] * 3
    with pytest.raises(ValueError, match="telepathy"):
        thread.set_mode("telepathy")


@pytest.mark.parametrize("mode", ["conversation", "chain", "local", "chat"])
def test_a_fork_sees_only_the_turns_it_was_forked_from(assistant, mode):
    parent = assistant.thread(title="parent", mode=mode)
    for number in range(1, 6):
        parent.ask(f"message {number}")
    fork = parent.fork(at_turn=2)
    assert fork.mode == mode and fork.id != parent.id
    assert [turn.input for turn in fork.history()] == ["message 1", "message 2"]
    assert fork.ask("how many messages?").text == "You have sent me 5 messages."  # turns 1-2 and this one
    assert parent.ask("how many messages?").text == "You have sent me 11 messages."
    info = assistant.store.thread(fork.id)
    assert (info.parent_id, info.forked_at_seq, info.title) == (parent.id, 2, "parent (fork)")
    assert [change.kind for change in fork.changes()] == ["forked"]
    with pytest.raises(AssistantError, match="turns 1 to 6"):
        parent.fork(at_turn=9)
    empty = parent.fork(at_turn=0)  # e.g. to edit the first message
    assert empty.history() == [] and empty.ask("a new start").text == "Reference reply to: a new start"


def test_doctor_finds_a_planted_difference_and_fix_repairs_it(assistant, sdk):
    thread = assistant.thread()
    thread.ask("keep me")
    thread.ask("and me")
    assert check(assistant, thread.id).ok
    items = list(sdk.conversations.items.list(thread.conversation_id, order="asc"))
    sdk.conversations.items.delete(items[1].id, conversation_id=thread.conversation_id)  # plant: drop an answer

    report = check(assistant, thread.id)
    assert [finding.kind for finding in report.findings] == ["missing_on_server"]
    assert "Reference reply to: keep me" in report.findings[0].detail
    old = thread.conversation_id
    repaired = check(assistant, thread.id, fix=True)
    assert repaired.repaired and "new conversation" in repaired.repaired
    thread.refresh()
    assert thread.conversation_id != old
    assert check(assistant, thread.id).ok
    assert thread.ask("how many messages?").text == "You have sent me 5 messages."


def test_doctor_reports_ids_that_no_longer_resolve(assistant, sdk):
    conversation_thread = assistant.thread()
    conversation_thread.ask("hi")
    sdk.conversations.delete(conversation_thread.conversation_id)
    assert [f.kind for f in check(assistant, conversation_thread.id).findings] == ["unresolved_id"]
    chain_thread = assistant.thread(mode="chain")
    chain_thread.ask("hi")
    sdk.responses.delete(chain_thread.last_response_id)
    report = check(assistant, chain_thread.id, fix=True)
    assert [f.kind for f in report.findings] == ["unresolved_id"] and report.repaired
    assert chain_thread.ask("what did I say first?").text == 'You first said: "hi"'


def test_doctor_mode_and_fork_commands(server, sdk, tmp_path):
    env = environment(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "index.db"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=env)

    assert run("ask", "first").returncode == 0
    assert run("ask", "second").returncode == 0
    thread_id = json.loads(run("threads", "--json").stdout)[0]["id"]
    assert run("doctor").returncode == 0
    conversation_id = json.loads(run("show", thread_id, "--json").stdout)["conversation_id"]
    sdk.conversations.delete(conversation_id)
    broken = run("doctor", thread_id)
    assert broken.returncode == 1 and "unresolved_id" in broken.stdout and "--fix" in broken.stderr
    fixed = run("doctor", thread_id, "--fix")
    assert fixed.returncode == 0 and "repaired" in fixed.stdout
    assert run("doctor", thread_id).returncode == 0

    assert "conversation -> local" in run("mode", thread_id, "local").stdout
    fork = run("fork", thread_id, "--at", "1")
    fork_id = fork.stdout.strip()
    assert fork.returncode == 0 and fork_id.startswith("thr_")
    answer = run("ask", "--thread", fork_id, "how many messages?")
    assert answer.stdout == "You have sent me 3 messages.\n"


class ChatOnlyProvider(HttpDouble):
    """A provider without the Responses and Conversations APIs (like a llama.cpp server): 404 on those routes,
    everything else passed through to the local server."""

    def __init__(self, upstream: str) -> None:
        class Handler(DoubleHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.read_body()
                if self.path.startswith(("/v1/responses", "/v1/conversations")):
                    self.send_whole(404, {"content-type": "application/json"}, b'{"detail": "Not Found"}')
                    return
                request = urllib.request.Request(
                    upstream.removesuffix("/v1") + self.path,
                    data=body,
                    method="POST",
                    headers={"content-type": "application/json", "authorization": self.headers["authorization"]},
                )
                with urllib.request.urlopen(request) as answer:
                    self.send_whole(answer.status, {"content-type": answer.headers["content-type"]}, answer.read())

            do_GET = do_POST

        super().__init__(Handler)


@pytest.mark.parametrize("mode", ["conversation", "chain"])
def test_a_provider_without_responses_falls_back_to_chat_mode(server, tmp_path, mode):
    with (
        ChatOnlyProvider(server.base_url) as provider,
        Assistant(
            base_url=provider.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0
        ) as assistant,
    ):
        thread = assistant.thread(mode=mode)
        events = list(thread.stream("hello over chat"))
        notices = [event for event in events if event.type == "thread.state_rebuilt"]
        assert len(notices) == 1 and "no Responses API" in notices[0].reason
        assert events[-1].turn.status == "completed" and events[-1].turn.backend == "chat"
        assert thread.mode == "chat"
        assert thread.ask("what did I say first?").text == 'You first said: "hello over chat"'
        assert [change.kind for change in thread.changes()] == ["mode_changed"]
