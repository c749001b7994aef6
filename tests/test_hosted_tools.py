"""Hosted tools through the library, end to end against the local server's real tools: files uploaded and
indexed, answers citing the right file, code run in the sandbox with its logs and files recorded and
downloaded, web answers citing the corpus, containers that expire, and the CLI's `files` and `--tools`."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from assistant import Assistant, TurnFailed
from assistant.server import LocalServer
from tests.server.tools_server import DOCUMENTS, MAX_UPLOAD, tool_settings, write_corpus
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY

PNG_CODE = """```python
import struct, zlib
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
pixels = zlib.compress(b'\\x00\\xff\\x00\\x00')
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 2, 0, 0, 0)) \\
    + chunk(b'IDAT', pixels) + chunk(b'IEND', b'')
open('dot.png', 'wb').write(png)
print('wrote', len(png))
```"""


@pytest.fixture(scope="module")
def tools_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosted")
    with LocalServer(db_path=root / "server.db", tool_settings=tool_settings(write_corpus(root / "corpus"))) as server:
        yield server


@pytest.fixture
def assistant(tools_server, tmp_path):
    with Assistant(
        base_url=tools_server.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        strict_validation=True,
        max_retries=0,
    ) as instance:
        yield instance


@pytest.fixture
def documents(tmp_path) -> list[Path]:
    paths = []
    for name, data in DOCUMENTS.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_file_search_answers_cite_the_right_file(assistant, documents):
    thread = assistant.thread(tools=["file_search"])
    steps = []
    outcomes = assistant.files.add(thread.id, documents, progress=steps.append)
    assert [(outcome.status, outcome.error) for outcome in outcomes] == [("completed", None), ("completed", None)]
    assert {step.step for step in steps} >= {"uploading", "attaching", "completed"}
    assert steps[-1].done == 2 and steps[-1].total == 2

    turn = thread.ask("What is the capital of Germany?")
    assert "Berlin" in turn.text
    citation = assistant.store.citations(thread.id)[0]  # the best match is quoted and cited first
    berlin_id = outcomes[1].file_id
    assert (citation.type, citation.file_id, citation.filename) == ("file_citation", berlin_id, "berlin.md")
    assert turn.text.index("Berlin is the capital of Germany") < citation.text_index
    [call] = assistant.store.tool_calls(thread.id)
    assert call.type == "file_search_call" and call.queries == ["What is the capital of Germany?"]
    assert call.results and call.results[0]["file_id"] == berlin_id and call.results[0]["score"] > 0

    # The same content again: no second upload, the index says so.
    again = assistant.files.add(thread.id, [documents[0]])
    assert again[0].reused and again[0].file_id == outcomes[0].file_id and again[0].status == "completed"
    listed = assistant.files.list(thread.id)
    assert sorted((record.filename, record.status) for record in listed) == [
        ("berlin.md", "completed"),
        ("paris.txt", "completed"),
    ]
    assert all(Path(record.path).read_bytes() == DOCUMENTS[record.filename] for record in listed)
    assistant.files.remove(thread.id, berlin_id)
    assert [record.filename for record in assistant.files.list(thread.id)] == ["paris.txt"]


def test_bad_files_fail_one_by_one_and_the_rest_go_ahead(assistant, tmp_path, documents):
    thread = assistant.thread(tools="files")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "program.exe").write_bytes(b"MZ\x00\x01")
    (tmp_path / "huge.txt").write_bytes(b"x" * (MAX_UPLOAD + 1))  # over this server's upload limit
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary pretending to be text\xff\xfe")
    paths = [
        tmp_path / "missing.md",
        folder,
        tmp_path / "empty.txt",
        tmp_path / "program.exe",
        tmp_path / "huge.txt",
        tmp_path / "binary.txt",
        documents[0],
    ]
    outcomes = assistant.files.add(thread.id, paths)
    errors = [outcome.error or "" for outcome in outcomes]
    assert "no such file" in errors[0]
    assert "is a folder" in errors[1]
    assert "is empty" in errors[2]
    assert "cannot index .exe" in errors[3]
    assert "huge.txt" in errors[4] and outcomes[4].file_id is None  # refused by the server, not uploaded
    assert outcomes[5].status == "failed" and "binary.txt" in errors[5]  # uploaded, but the store cannot index it
    assert (outcomes[6].status, outcomes[6].error) == ("completed", None)
    recorded = {record.filename: record.status for record in assistant.files.list(thread.id)}
    assert recorded == {"binary.txt": "failed", "paris.txt": "completed"}  # nothing half-done recorded as done


def test_code_runs_in_the_sandbox_and_its_logs_are_recorded(assistant):
    thread = assistant.thread(tools=["code_interpreter"])
    turn = thread.ask("What is 17*23?")
    assert "391" in turn.text
    [call] = assistant.store.tool_calls(thread.id)
    assert call.type == "code_interpreter_call" and "17*23" in call.code
    assert call.logs.strip() == "391" and call.container_id.startswith("cntr_")
    assert assistant.store.thread_container(thread.id) == call.container_id


def test_files_the_code_writes_are_downloaded_and_recorded(assistant, tmp_path):
    thread = assistant.thread(tools=["code_interpreter"])
    turn = thread.ask(PNG_CODE)
    assert turn.status == "completed"
    [made] = assistant.store.container_files(thread.id)
    assert made.filename == "dot.png" and made.turn_id == turn.id
    saved = Path(made.path)
    assert saved.parent == tmp_path / "files" / thread.id
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and made.bytes == saved.stat().st_size
    # The same file is not fetched twice on the next turn.
    thread.ask("What is 2+3?")
    assert len(assistant.store.container_files(thread.id)) == 1


def test_web_answers_cite_the_corpus(assistant):
    thread = assistant.thread(tools=[{"type": "web_search", "search_context_size": "low"}])
    turn = thread.ask("search the latest on asyncio TaskGroup")
    citations = assistant.store.citations(thread.id)
    assert citations and citations[0].type == "url_citation"
    assert citations[0].url == "https://docs.python.org/3/library/asyncio-task.html"
    assert turn.text[citations[0].start_index : citations[0].end_index].startswith("[Coroutines and Tasks](")
    [call] = assistant.store.tool_calls(thread.id)
    assert call.type == "web_search_call" and call.queries
    assert call.results and call.results[0]["url"] == "https://docs.python.org/3/library/asyncio-task.html"


def test_tools_can_be_overridden_per_turn(assistant):
    thread = assistant.thread()
    assert thread.tools.enabled == []
    assert "391" not in thread.ask("What is 17*23?").text  # no tools: the reference engine just echoes
    assert "391" in thread.ask("What is 17*23?", tools=["code"]).text
    thread.set_tools("web,code")
    assert thread.tools.enabled == ["web_search", "code_interpreter"]
    with pytest.raises(ValueError, match="Unknown tool 'telepathy'"):
        thread.set_tools(["telepathy"])


def test_an_expired_container_is_replaced_and_the_user_told(tmp_path):
    settings = tool_settings(write_corpus(tmp_path / "corpus"), container_idle_timeout_s=0.5)
    with (
        LocalServer(db_path=tmp_path / "server.db", tool_settings=settings) as server,
        Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db") as assistant,
    ):
        thread = assistant.thread(tools=["code_interpreter"], mode="local")  # the container is named each turn
        thread.ask("```python\nanswer = 41 + 1\nprint(answer)\n```")
        first = assistant.store.thread_container(thread.id)
        time.sleep(1.1)  # the server counts idle time in whole seconds, as the API shows it
        events = list(thread.stream("What is 6*7?"))
        notices = [event for event in events if event.type == "container.replaced"]
        second = assistant.store.thread_container(thread.id)
    assert first and second and first != second
    assert len(notices) == 1 and first in notices[0].message and "gone" in notices[0].message
    assert (notices[0].old_container_id, notices[0].new_container_id) == (first, second)


def test_files_and_tools_from_the_command_line(tools_server, tmp_path, documents):
    env = environment(
        OPENAI_BASE_URL=tools_server.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "index.db")
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=env, timeout=120)

    first = run("ask", "--new", "--tools", "files,code", "hello")
    assert first.returncode == 0, first.stderr
    added = run("files", "add", str(documents[0]), str(documents[1]), str(tmp_path / "nope.txt"))
    assert added.returncode == 1  # one file failed; the others went ahead
    assert "nope.txt: no such file" in added.stderr and "2 of 3 files ready" in added.stderr
    listed = run("files", "list", "--json")
    assert sorted(entry["filename"] for entry in json.loads(listed.stdout)) == ["berlin.md", "paris.txt"]
    answer = run("ask", "What is the capital of France?")
    assert "Paris" in answer.stdout
    code = run("ask", "--tools", "code", "What is 17*23?")
    assert "391" in code.stdout
    file_id = json.loads(listed.stdout)[0]["id"]
    assert run("files", "rm", file_id).returncode == 0
    assert len(json.loads(run("files", "list", "--json").stdout)) == 1
    assert "has no file" in run("files", "rm", "file-nope").stderr


def test_a_stream_cut_after_a_finished_tool_call_keeps_the_call(assistant, tools_server):
    from openai import OpenAI

    tools = [{"type": "web_search", "search_context_size": "low"}]
    question = "search the latest on asyncio TaskGroup"
    with OpenAI(base_url=tools_server.base_url, api_key=TEST_KEY, max_retries=0) as raw:
        kinds = [
            (event.type, getattr(getattr(event, "item", None), "type", None))
            for event in raw.responses.create(model="gpt-4.1-mini", input=question, tools=tools, stream=True)
        ]
    done = kinds.index(("response.output_item.done", "web_search_call"))
    assert ("response.output_text.delta", None) in kinds[done:]  # the answer comes after the call
    tools_server.inject_fault(cut_after_events=done + 1, path="/v1/responses")
    thread = assistant.thread(tools=tools)
    with pytest.raises(TurnFailed, match="broke off") as caught:
        thread.ask(question)
    turn = caught.value.turn
    assert turn.status == "incomplete"
    assert [(item.direction, item.type) for item in turn.items] == [("input", "message"), ("output", "web_search_call")]
    [call] = assistant.store.tool_calls(thread.id)
    assert call.type == "web_search_call" and call.queries
