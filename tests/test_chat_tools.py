"""Hosted tools in the Chat Completions fallback, run on the client: variables that survive between turns, earlier
tool calls replayed to the model, a tool that fails, and the bound on tool rounds (against a server whose model
never stops calling tools). Real SDK (strict), real HTTP, a real local server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.backends.backend import TurnRequest
from assistant.backends.chat import MAX_TOOL_ROUNDS, chat_params
from assistant.server import LocalServer
from assistant.server.engines.engine import Finish, GenerationRequest, ToolCall, Usage
from assistant.server.engines.registry import EngineRegistry
from tests.support.fixtures import TEST_KEY


def test_variables_survive_between_chat_turns_in_the_threads_own_sandbox(tool_assistant: Assistant) -> None:
    thread = tool_assistant.thread(mode="chat", tools="code")
    first = thread.ask("```python\nanswer = 6 * 7\n```")
    second = thread.ask("Run `print(answer)`")
    assert "42" in second.text
    containers = {turn.output_items[0].data["container_id"] for turn in (first, second)}
    assert containers == {f"local_{thread.id}"}
    folder = tool_assistant.settings.db_path.parent / "containers" / thread.id
    assert folder.is_dir()


def test_a_plot_is_a_file_in_the_container_folder_with_a_container_citation(tool_assistant: Assistant) -> None:
    thread = tool_assistant.thread(mode="chat", tools="code")
    turn = thread.ask("Plot y = x^2 as a PNG chart")
    call = turn.output_items[0].data
    assert call["outputs"][0]["type"] == "image" and call["outputs"][0]["url"].startswith("data:image/png;base64,")
    message = next(item.data for item in turn.output_items if item.type == "message")
    citation = message["content"][0]["annotations"][0]
    assert citation["type"] == "container_file_citation" and citation["filename"] == "plot.png"
    assert turn.text[citation["start_index"] : citation["end_index"]] == "[plot.png](sandbox:/mnt/data/plot.png)"
    png = tool_assistant.settings.db_path.parent / "containers" / thread.id / "plot.png"
    assert png.read_bytes().startswith(b"\x89PNG")


def test_earlier_tool_calls_are_replayed_to_the_model_as_function_calls(tool_assistant: Assistant) -> None:
    thread = tool_assistant.thread(mode="chat", tools="code")
    thread.ask("What is 17*23?")
    thread.refresh()
    request = TurnRequest(
        thread=tool_assistant.store.thread(thread.id),
        input_text="and now?",
        model="gpt-4.1-mini",
        instructions=None,
        history=tool_assistant.store.replay_items(thread.id),
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
    )
    messages = chat_params(request)["messages"]
    assert [message["role"] for message in messages] == ["user", "assistant", "tool", "assistant", "user"]
    [call] = messages[1]["tool_calls"]
    assert call["function"]["name"] == "code_interpreter"
    assert json.loads(call["function"]["arguments"]) == {"code": "print(17*23)"}
    assert messages[2]["tool_call_id"] == call["id"] and json.loads(messages[2]["content"])["logs"] == "391\n"
    assert "391" in messages[3]["content"]


def test_a_failing_tool_is_a_failed_item_and_the_answer_says_why(
    tool_assistant: Assistant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSISTANT_WEB_CORPUS", str(tmp_path / "no-such-folder"))
    with Assistant(
        base_url=tool_assistant.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "other.db",
        max_retries=0,
        strict_validation=True,
    ) as other:
        turn = other.thread(mode="chat", tools="web").ask("search the latest news")
    call = turn.output_items[0].data
    assert call["type"] == "web_search_call" and call["status"] == "failed"
    assert turn.status == "completed" and "Web search failed" in turn.text and "does not exist" in turn.text


class EndlessCaller:
    """A model that calls the code interpreter function every time it is asked, and never answers."""

    def generate(self, request: GenerationRequest) -> Iterator[ToolCall | Finish]:
        yield ToolCall(kind="function", name="code_interpreter", arguments=json.dumps({"code": "print(1)"}))
        yield Finish(Usage(input_tokens=1, output_tokens=1), reason="tool_calls")


def test_the_tool_loop_is_bounded(tmp_path: Path) -> None:
    engines = EngineRegistry()
    engines.register(EndlessCaller(), ["gpt-4.1-mini"])
    with (
        LocalServer(db_path=tmp_path / "server.db", engines=engines) as server,
        Assistant(
            base_url=server.base_url,
            api_key=TEST_KEY,
            db_path=tmp_path / "index.db",
            max_retries=0,
            strict_validation=True,
        ) as assistant,
    ):
        turn = assistant.thread(mode="chat", tools="code").ask("loop forever")
    assert turn.status == "incomplete" and turn.incomplete_reason == "max_tool_rounds"
    calls = [item.data for item in turn.output_items if item.type == "code_interpreter_call"]
    assert len(calls) == MAX_TOOL_ROUNDS - 1  # the last round offers no tools and is not run
    assert turn.usage.input_tokens == MAX_TOOL_ROUNDS  # usage is summed over every round
