"""The Chat fallback against a real OpenAI-compatible server that has no Responses API: llama-cpp-python's own
server (`python -m llama_cpp.server`), started here on the SmolLM2-135M weights, driven by the library (real
openai SDK, strict validation) and by the `assistant` command.

What it checks is what a user with a local llama.cpp server meets: the first turn falls back to Chat Completions,
on record; every turn streams text and ends with a finish reason; history reaches the model; a cancelled turn
and a broken stream are recorded as such and the server goes on answering; `compare` runs with the Chat side on
it; tools are either used (a server started with `--chat_format chatml-function-calling`) or named as not
available. The answers of a 135M model are not checked for wisdom, only for being there.

CI installs llama-cpp-python, its server's dependencies (the `llama-server` extra, in `dev`) and the weights
(scripts/setup.sh), so there a missing install is a failure, never a skip.

The server runs on one thread: llama.cpp's threads wait for each other by spinning, and with two of them on a
busy two-core machine decoding ran at 3-4 tokens/s instead of 60-100.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openai import OpenAI

from assistant import Assistant
from assistant.backends.backend import TurnRequest
from assistant.backends.chat import ChatBackend
from assistant.compare import compare
from assistant.compare_input import Conversation
from assistant.events import ItemDone, ResponseEnded, ToolsUnavailable
from assistant.server.engines.smollm2 import llama_engine_missing, smollm2_weights
from tests.support.cli import environment, run_cli, start_cli
from tests.support.misbehaving_provider import MisbehavingProvider
from tests.tui.conftest import SIZE, send, started
from tui.app import AssistantApp

# llama-cpp-python's `server` extra, beside what the project needs anyway (uvicorn, PyYAML).
SERVER_EXTRA = ("fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
KEY = "no-key"  # the server is started without --api_key: any key goes
STARTUP_S = 120  # loading 135M weights takes about a second; a loaded CI machine may be slower
ANSWER = {"temperature": 0, "max_output_tokens": 80}  # greedy and short: "The capital of France is Paris."
INSTRUCTIONS = "Answer in one short sentence."


def llama_cpp_server_missing() -> str | None:
    missing = llama_engine_missing()
    if missing:
        return missing
    absent = [name for name in SERVER_EXTRA if importlib.util.find_spec(name) is None]
    if absent:
        return (
            f"llama-cpp-python's server cannot start: {', '.join(absent)} missing (the `llama-server` extra: "
            "pip install -e '.[dev]')"
        )
    return None


MISSING = llama_cpp_server_missing()


def require_llama_cpp_server() -> None:
    if MISSING:
        if os.environ.get("CI"):
            pytest.fail(f"{MISSING}. CI must run llama-cpp-python's server for real.")
        pytest.skip(MISSING)


class LlamaCppServer:
    """`python -m llama_cpp.server` on a free loopback port, its output in `log`."""

    def __init__(self, log: Path, *options: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = log
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(smollm2_weights()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "1",
            "--verbose",
            "False",
            *options,
        ]
        with log.open("wb") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        self.started_in = self._wait_until_ready()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _wait_until_ready(self) -> float:
        start = time.monotonic()
        while time.monotonic() - start < STARTUP_S:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"llama_cpp.server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx2.get(f"{self.base_url}/models", timeout=1).status_code == 200:
                    return time.monotonic() - start
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"llama_cpp.server did not answer within {STARTUP_S} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def llama_cpp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    """The server as most users start it: the chat template from the GGUF, no function calling."""
    require_llama_cpp_server()
    server = LlamaCppServer(tmp_path_factory.mktemp("llama_cpp") / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llama_cpp_functions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    """The server started for function calling."""
    require_llama_cpp_server()
    server = LlamaCppServer(
        tmp_path_factory.mktemp("llama_cpp_functions") / "server.log", "--chat_format", "chatml-function-calling"
    )
    yield server
    server.stop()


@pytest.fixture
def provider(llama_cpp: LlamaCppServer) -> Iterator[MisbehavingProvider]:
    """A proxy in front of the server that keeps every request and breaks the streams a test asks it to."""
    with MisbehavingProvider(llama_cpp.base_url) as provider:
        yield provider


def assistant_on(base_url: str, tmp_path: Path) -> Assistant:
    # A 135M model on a busy machine: minutes, not the default seconds, before a stall counts as one.
    return Assistant(
        base_url=base_url,
        api_key=KEY,
        db_path=tmp_path / "index.db",
        max_retries=0,
        timeout=300,
        strict_validation=True,
    )


def chat_messages(provider: MisbehavingProvider) -> list[list[dict[str, Any]]]:
    return [
        body["messages"]
        for method, path, body in provider.requests
        if method == "POST" and path == "/v1/chat/completions"
    ]


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_the_first_turn_falls_back_to_chat_and_every_turn_streams_an_answer(provider, tmp_path):
    with assistant_on(provider.base_url, tmp_path) as assistant:
        thread = assistant.thread(instructions=INSTRUCTIONS)
        events = list(thread.stream("What is the capital of France?", **ANSWER))
        [fallback] = [event for event in events if event.type == "thread.state_rebuilt"]
        assert "answered 404: this server has no Responses API" in fallback.reason
        assert thread.mode == "chat"
        assert [change.kind for change in thread.changes()] == ["mode_changed"]

        first = events[-1].turn
        deltas = [event.text for event in events if event.type == "text.delta"]
        assert events[-1].type == "turn.completed", (first.error, first.incomplete_reason)
        assert len(deltas) > 1 and first.text == "".join(deltas) and first.text.strip()

        second = thread.ask("And of Italy?", **ANSWER)
        assert second.status == "completed" and second.text.strip()
        assert [turn.status for turn in thread.history()] == ["completed", "completed"]

    # The second request carried the first turn, as plain strings, the template's only shape.
    *_, last = chat_messages(provider)
    assert last == [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "And of Italy?"},
    ]


def test_a_cancelled_turn_is_recorded_and_the_server_answers_the_next(llama_cpp, tmp_path):
    with assistant_on(llama_cpp.base_url, tmp_path) as assistant:
        thread = assistant.thread(mode="chat", instructions=INSTRUCTIONS)
        events = thread.stream("Tell me a long story about a dragon.", temperature=0, max_output_tokens=200)
        deltas = []
        for event in events:
            if event.type == "text.delta":
                deltas.append(event.text)
                break
        events.close()
        [cancelled] = thread.history()
        assert cancelled.status == "cancelled" and cancelled.text == "".join(deltas)

        turn = thread.ask("What is the capital of France?", **ANSWER)
        assert turn.status == "completed" and turn.text.strip()


def test_a_broken_stream_says_why_and_the_thread_goes_on(provider, tmp_path):
    with assistant_on(provider.base_url, tmp_path) as assistant:
        thread = assistant.thread(mode="chat", instructions=INSTRUCTIONS)
        provider.corrupt_next_stream(after_events=3, line=b"")  # the role, two tokens, then the connection closes
        events = list(thread.stream("What is the capital of France?", **ANSWER))
        broken = events[-1].turn
        assert (broken.status, broken.incomplete_reason) == ("incomplete", "stream_interrupted")
        assert broken.text == "".join(event.text for event in events if event.type == "text.delta") != ""
        assert broken.error == (
            f"the server closed the stream after {len(broken.text)} characters, before the "
            "answer finished; check its log"
        )

        turn = thread.ask("What is the capital of France?", **ANSWER)
        assert turn.status == "completed" and turn.text.strip()


def test_an_answer_the_server_cuts_short_is_an_error_of_the_cli(llama_cpp, tmp_path):
    # By default llama-cpp-python's server stops a streaming answer when another request comes in, and ends its
    # stream with [DONE] and no finish_reason (--interrupt_requests False makes requests wait their turn).
    env = environment(
        OPENAI_BASE_URL=llama_cpp.base_url,
        OPENAI_API_KEY=KEY,
        ASSISTANT_DB=str(tmp_path / "index.db"),
        ASSISTANT_TIMEOUT="300",
    )
    with (
        OpenAI(base_url=llama_cpp.base_url, api_key=KEY, max_retries=0) as other_client,
        start_cli(
            "ask",
            "--mode",
            "chat",
            "--max-output-tokens",
            "400",
            "Tell me a long story about a dragon.",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        ) as cli,
    ):
        assert cli.stdout is not None
        first = cli.stdout.read(1)  # the answer has begun
        other_client.chat.completions.create(model="any", messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
        stdout, stderr = cli.communicate(timeout=300)
    assert cli.returncode == 1, stderr.decode()
    [line] = stderr.decode().splitlines()
    assert line.startswith("error: the server closed the stream after ")
    assert f"before the answer finished; check its log ({llama_cpp.base_url}); what arrived is saved in thread" in line
    with assistant_on(llama_cpp.base_url, tmp_path) as assistant:
        [turn] = assistant.thread(assistant.threads()[0].id).history()
    assert (turn.status, turn.incomplete_reason) == ("incomplete", "stream_interrupted")
    assert turn.text.strip() and (first + stdout).decode() == turn.text + "\n"  # what arrived, all of it


def test_the_cli_answers_through_it_and_names_the_tools_it_cannot_use(llama_cpp, tmp_path):
    env = environment(
        OPENAI_BASE_URL=llama_cpp.base_url,
        OPENAI_API_KEY=KEY,
        ASSISTANT_DB=str(tmp_path / "index.db"),
        ASSISTANT_TIMEOUT="300",
    )
    result = run_cli(
        "ask",
        "--tools",
        "code",
        "--instructions",
        INSTRUCTIONS,
        "--max-output-tokens",
        "80",
        "What is the capital of France?",
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert "this server has no Responses API; the thread now uses Chat Completions" in notes[0]
    # llama-cpp-python's server takes the tools and ignores them: said once.
    [tools_note] = [note for note in notes if "code_interpreter" in note]
    assert tools_note.startswith("note: the model answered without calling the tools offered (code_interpreter)")
    assert result.stderr.splitlines()[-1].startswith("[thread thr_")


def test_compare_runs_with_the_chat_side_on_it(llama_cpp, tmp_path):
    with assistant_on(llama_cpp.base_url, tmp_path) as assistant:
        # One side at a time: the server cuts an answer short when another request comes in (see above).
        report = compare(
            assistant,
            [Conversation(name="capital", turns=["What is the capital of France?"], instructions=INSTRUCTIONS)],
            max_workers=1,
        )
        [result] = report.conversations
        for backend in ("responses", "chat"):
            [turn] = result.runs[backend].turns
            assert turn.status == "completed" and turn.text.strip() and turn.request_bytes > 0, turn
        # The Responses side found no Responses API there and fell back, on record.
        assert assistant.thread(result.runs["responses"].thread_id).mode == "chat"


def test_a_function_call_that_cannot_be_streamed_is_read_unstreamed(llama_cpp_functions, tmp_path):
    # llama-cpp-python's function calling cannot stream a call the model chose itself: it closes the stream with
    # nothing in it. The backend asks again without streaming and gets the call.
    with assistant_on(llama_cpp_functions.base_url, tmp_path) as assistant:
        thread = assistant.thread(mode="chat")
        request = TurnRequest(
            thread=assistant.store.thread(thread.id),
            input_text="What is the weather in Paris?",
            model=assistant.settings.model,
            instructions=None,
            functions=[WEATHER_TOOL],
        )
        events = list(ChatBackend(assistant).stream(request))
    end = events[-1]
    assert isinstance(end, ResponseEnded) and end.status == "completed", end
    [call] = [event.item for event in events if isinstance(event, ItemDone)]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Paris"}


def test_functions_run_on_a_server_with_function_calling(llama_cpp_functions, tmp_path):
    with (
        MisbehavingProvider(llama_cpp_functions.base_url) as provider,
        assistant_on(provider.base_url, tmp_path) as assistant,
    ):
        thread = assistant.thread(mode="chat")
        events = list(
            thread.stream(
                "What is the weather in Paris?",
                functions=[get_weather],
                tool_choice={"type": "function", "name": "get_weather"},
                max_function_rounds=1,
                **ANSWER,
            )
        )
        results = [event for event in events if event.type == "function.result"]
        assert results and results[0].name == "get_weather" and results[0].output.startswith("sunny in ")
        assert not [event for event in events if isinstance(event, ToolsUnavailable)]
        turn = events[-1].turn
        assert turn.text.strip() and turn.incomplete_reason != "stream_interrupted", turn

    # The call and its output went back in the shapes the server's template renders.
    messages = chat_messages(provider)[1]
    call, output = messages[-2:]
    assert call["role"] == "assistant" and call["content"] == "" and call["tool_calls"][0]["type"] == "function"
    assert output == {"role": "tool", "tool_call_id": call["tool_calls"][0]["id"], "content": results[0].output}


async def test_the_app_answers_through_it(llama_cpp, tmp_path):
    with assistant_on(llama_cpp.base_url, tmp_path) as assistant:
        app = AssistantApp(assistant)
        # The notices as they are posted: a notification leaves the screen after its timeout, which a slow answer
        # on a busy machine outlasts.
        titles: list[str] = []
        notify = app.notify

        def recorded(message: str, *, title: str = "", **options: Any) -> None:
            titles.append(title)
            notify(message, title=title, **options)

        app.notify = recorded  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            screen = await started(pilot)
            answer = await send(pilot, "What is the capital of France?", timeout=300)
            assert answer.text.strip()
            assert titles == ["Thread moved to chat mode"]
            answer = await send(pilot, "And of Italy?", timeout=300)
            assert answer.text.strip()
            assert screen.thread is not None and screen.thread.mode == "chat"
            turns = screen.thread.history()
    # The app asks with no length limit: a model that rambles on to the end of its context is cut by length.
    assert all(turn.text.strip() and turn.incomplete_reason in (None, "max_output_tokens") for turn in turns), turns
