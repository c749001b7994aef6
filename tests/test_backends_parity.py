"""The same conversation tests for the Responses backend (conversation mode) and the Chat Completions fallback
(chat mode), through the real SDK (strict) over HTTP against the local server: memory, instructions, the
output limit, cancelling, and the three hosted tools (which chat mode runs on the client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from tests.support.tool_threads import add_documents

MODES = ["conversation", "chat"]
BACKEND_OF_MODE = {"conversation": "responses", "chat": "chat"}


def answer_annotations(turn):
    message = next(item.data for item in turn.output_items if item.type == "message")
    return message["content"][0]["annotations"]


@pytest.mark.parametrize("mode", MODES)
def test_memory_across_turns(tool_assistant: Assistant, mode: str) -> None:
    thread = tool_assistant.thread(mode=mode)
    thread.ask("my name is Ada")
    thread.ask("I like tea")
    turn = thread.ask("what did I say first?")
    assert turn.text == 'You first said: "my name is Ada"'
    assert turn.backend == BACKEND_OF_MODE[mode]
    assert thread.ask("how many messages?").text == "You have sent me 7 messages."


@pytest.mark.parametrize("mode", MODES)
def test_instructions_are_sent_every_turn(tool_assistant: Assistant, mode: str) -> None:
    thread = tool_assistant.thread(mode=mode, instructions="Answer like a pirate.")
    thread.ask("hello")
    assert thread.ask("what are your instructions?").text == 'My instructions are: "Answer like a pirate."'
    assert (
        thread.ask("what are your instructions?", instructions="Be brief.").text == 'My instructions are: "Be brief."'
    )


@pytest.mark.parametrize("mode", MODES)
def test_output_limit_makes_the_turn_incomplete(tool_assistant: Assistant, mode: str) -> None:
    turn = tool_assistant.thread(mode=mode).ask("repeat 50 words", max_output_tokens=16)
    assert turn.status == "incomplete" and turn.incomplete_reason == "max_output_tokens"
    words = turn.text.split()
    assert 1 <= len(words) < 50 and words == [f"word{number}" for number in range(1, len(words) + 1)]
    assert 0 < turn.usage.output_tokens <= 16


@pytest.mark.parametrize("mode", MODES)
def test_leaving_the_stream_cancels_the_turn_and_keeps_what_arrived(tool_assistant: Assistant, mode: str) -> None:
    thread = tool_assistant.thread(mode=mode)
    stream = thread.stream("count to 300")
    for event in stream:
        if event.type == "text.delta":
            break
    stream.close()
    turn = thread.history()[-1]
    assert turn.status == "cancelled"
    assert turn.text.startswith("1")
    # The thread goes on: the cancelled turn never reached the model's context.
    assert thread.ask("how many messages?").text == "You have sent me 1 messages."


@pytest.mark.parametrize("mode", MODES)
def test_file_search_cites_the_right_file(tool_assistant: Assistant, mode: str, tmp_path: Path) -> None:
    thread = tool_assistant.thread(mode=mode, tools="files")
    ids = add_documents(tool_assistant, thread.id, tmp_path)
    turn = thread.ask("Which city has the Brandenburg Gate?")
    call = turn.output_items[0].data
    assert call["type"] == "file_search_call" and call["status"] == "completed"
    assert call["results"][0]["file_id"] == ids["berlin.md"]
    citation = answer_annotations(turn)[0]
    assert citation["type"] == "file_citation" and citation["file_id"] == ids["berlin.md"]
    assert "Brandenburg Gate" in turn.text[: citation["index"]]
    recorded = tool_assistant.store.citations(thread.id)
    assert [(row.type, row.file_id) for row in recorded] == [("file_citation", ids["berlin.md"])]
    other = thread.ask("What is the Eiffel Tower known for?")
    assert answer_annotations(other)[0]["file_id"] == ids["paris.txt"]


@pytest.mark.parametrize("mode", MODES)
def test_code_interpreter_computes_391_with_logs(tool_assistant: Assistant, mode: str) -> None:
    thread = tool_assistant.thread(mode=mode, tools="code")
    events = list(thread.stream("What is 17*23?"))
    turn = events[-1].turn
    call = turn.output_items[0].data
    assert call["type"] == "code_interpreter_call" and call["code"] == "print(17*23)"
    assert call["outputs"] == [{"type": "logs", "logs": "391\n"}]
    assert "391" in turn.text
    progress = [event.status for event in events if event.type == "tool_call.progress"]
    assert progress[0] == "in_progress" and progress[-1] == "completed" and "interpreting" in progress
    [row] = tool_assistant.store.tool_calls(thread.id)
    assert row.type == "code_interpreter_call" and row.logs == "391\n" and row.code == "print(17*23)"


@pytest.mark.parametrize("mode", MODES)
def test_web_search_cites_urls_from_the_corpus(tool_assistant: Assistant, mode: str) -> None:
    thread = tool_assistant.thread(mode=mode, tools="web")
    turn = thread.ask("search: can penguins fly?")
    call = turn.output_items[0].data
    assert call["type"] == "web_search_call" and call["status"] == "completed"
    assert {"type": "url", "url": "https://zoo.example.org/penguins"} in call["action"]["sources"]
    citations = answer_annotations(turn)
    assert citations and all(note["type"] == "url_citation" for note in citations)
    penguins = next(note for note in citations if note["url"] == "https://zoo.example.org/penguins")
    assert turn.text[penguins["start_index"] : penguins["end_index"]] == "[Penguins](https://zoo.example.org/penguins)"
    assert "https://zoo.example.org/penguins" in [row.url for row in tool_assistant.store.citations(thread.id)]
