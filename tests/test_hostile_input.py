"""Hostile input: a 10 MB paste, binary uploads, path traversal in upload names and container file paths, and a
provider answering with HTML, truncated JSON or broken events. Each is a clear error or goes through; nothing
crashes, nothing is recorded as completed that was not, and nothing is written outside its place."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from openai import OpenAI

from assistant import Assistant, ServerError, TurnFailed
from assistant.server import LocalServer
from tests.server.tools_server import tool_settings, write_corpus
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY
from tests.support.misbehaving_provider import MisbehavingProvider


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file() or path.is_symlink()}


def cli(*args: str, env: dict[str, str], stdin: bytes | None = None, timeout: float = 120):
    """The command with its output as bytes: what it writes is checked byte for byte."""
    return run_cli(*args, env=env, input=stdin, text=False, timeout=timeout)


def assert_one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    stderr = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


# -- a huge paste -------------------------------------------------------------------------------------------------


def test_a_10_mb_paste_goes_through_end_to_end_and_is_searchable(server, tmp_path):
    env = environment(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "i.db"))
    line = "naïve café ✓ — a long pasted log line with some words in it\n"
    paste = line * (10 * 2**20 // len(line.encode())) + "the needle is zanzibar\n"
    assert len(paste.encode()) > 10 * 2**20
    result = cli("ask", "--json", "-", env=env, stdin=paste.encode(), timeout=300)
    assert result.returncode == 0, result.stderr[-500:]
    turn = json.loads(result.stdout)
    assert turn["status"] == "completed" and turn["input"] == paste
    assert turn["request_bytes"] > len(paste.encode())
    found = cli("search", "--json", "zanzibar", env=env)
    assert found.returncode == 0 and [hit["turn_id"] for hit in json.loads(found.stdout)] == [turn["id"]]


# -- uploads: binary content and hostile names --------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../../../escape-{tag}.txt",
    "/tmp/escape-{tag}.txt",
    "..\\..\\escape-{tag}.txt",
    "sub/../../escape-{tag}.txt",
    "..",
    ".hidden-{tag}.txt",
    "new\nline-{tag}.txt",
]


@pytest.fixture
def deep_server(tmp_path):
    """A local server whose state lives deep inside tmp_path, so that a `../..` escape would land in tmp_path
    where the test can see it."""
    root = tmp_path / "a" / "b" / "c"
    root.mkdir(parents=True)
    with LocalServer(
        db_path=root / "server.db", tool_settings=tool_settings(write_corpus(tmp_path / "corpus"))
    ) as server:
        yield server, root


def test_hostile_upload_names_stay_inside_the_servers_folder(deep_server, tmp_path):
    server, root = deep_server
    tag = uuid.uuid4().hex[:8]
    before = files_under(tmp_path)
    client = OpenAI(base_url=server.base_url, api_key=TEST_KEY, max_retries=0, _strict_response_validation=True)
    container = client.containers.create(name="hostile names")
    for number, template in enumerate(HOSTILE_NAMES):
        data = f"upload {number}".encode()
        uploaded = client.files.create(file=(template.format(tag=tag), data), purpose="assistants")
        assert "/" not in uploaded.filename and "\\" not in uploaded.filename and "\n" not in uploaded.filename
        assert not uploaded.filename.startswith(".")
        assert client.files.content(uploaded.id).read() == data
        made = client.containers.files.create(container.id, file=(template.format(tag=tag), data))
        assert made.path.startswith("/mnt/data/") and made.path.count("/") == 3, made.path
        assert client.containers.files.content.retrieve(made.id, container_id=container.id).read() == data
    client.close()
    new = files_under(tmp_path) - before
    assert new and all(root in path.parents for path in new), sorted(map(str, new))
    assert not list(Path("/tmp").glob(f"escape-{tag}*"))


def test_binary_and_oddly_named_files_through_files_add(deep_server, tmp_path):
    server, root = deep_server
    odd = tmp_path / "uploads-src" / "..\\..\\escape-odd.txt"  # a legal Linux name full of traversal
    odd.parent.mkdir()
    odd.write_text("Penguins live in Antarctica.\n")
    garbage = tmp_path / "uploads-src" / "random.pdf"
    garbage.write_bytes(bytes(range(256)) * 16)  # claims to be a PDF, is not
    nul = tmp_path / "uploads-src" / "nul.txt"
    nul.write_bytes(b"text\x00with\x00NULs\xff\xfe")
    env = environment(
        OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "data" / "index.db")
    )
    assert cli("ask", "hello", env=env).returncode == 0
    before = files_under(tmp_path)
    result = cli("files", "add", str(odd), str(garbage), str(nul), env=env)
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    listed = json.loads(cli("files", "list", "--json", env=env).stdout)
    statuses = {record["filename"]: record["status"] for record in listed}
    # Recorded under the name the user gave it; the binary files fail one by one, each with its own line.
    assert statuses == {"..\\..\\escape-odd.txt": "completed", "random.pdf": "failed", "nul.txt": "failed"}
    assert result.returncode == 1
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "random.pdf" in errors[0] + errors[1] and "nul.txt" in errors[0] + errors[1]
    new = files_under(tmp_path) - before
    allowed = (root, tmp_path / "data")
    assert all(any(folder in path.parents for folder in allowed) for path in new), sorted(map(str, new))
    assert not any("escape" in path.name and root not in path.parents for path in new)


# -- container files the code writes ------------------------------------------------------------------------------

HOSTILE_CODE = r"""```python
import os
os.makedirs('sub/deeper', exist_ok=True)
open('sub/deeper/nested.txt', 'w').write('nested')
for name in ['..\\..\\backslash.txt', 'new\nline.txt', ' .dotted.txt', 'x' * 240 + '.txt']:
    open(name, 'w').write('hostile')
try:
    open('../../escape-code.txt', 'w').write('escaped')
except OSError as error:
    print('refused', type(error).__name__)
os.symlink('/etc/hostname', 'link.txt')
print('done')
```"""


@pytest.fixture
def tool_assistant(deep_server, tmp_path):
    server, _ = deep_server
    with Assistant(
        base_url=server.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "data" / "index.db",
        max_retries=0,
        strict_validation=True,
    ) as assistant:
        yield assistant


def assert_downloads_stay_in_the_thread_folder(
    assistant: Assistant, thread_id: str, tmp_path: Path, before: set[Path]
) -> list:
    folder = assistant.settings.data_dir / "files" / thread_id
    records = assistant.store.container_files(thread_id)
    for record in records:
        assert "/" not in record.filename and "\\" not in record.filename and "\n" not in record.filename
        assert not record.filename.startswith(".") and len(record.filename.encode()) <= 255
        assert record.path is not None, record  # every file landed (long names shortened, not dropped)
        assert Path(record.path).parent == folder
    new = files_under(tmp_path) - before
    downloads = {path for path in new if folder in path.parents}
    assert downloads == {Path(record.path) for record in records}
    # Nothing else appeared but the index's own files and the server's state.
    index_files = {path for path in new if path.parent == assistant.settings.data_dir and path.name.startswith("index")}
    server_files = {path for path in new if (tmp_path / "a") in path.parents}
    assert new == downloads | index_files | server_files, sorted(map(str, new - downloads - index_files - server_files))
    return records


def test_files_the_code_writes_under_hostile_names_land_in_the_thread_folder(tool_assistant, tmp_path):
    thread = tool_assistant.thread(tools=["code_interpreter"])
    before = files_under(tmp_path)
    turn = thread.ask(HOSTILE_CODE)
    [call] = tool_assistant.store.tool_calls(thread.id)
    assert turn.status == "completed" and "done" in call.logs
    records = assert_downloads_stay_in_the_thread_folder(tool_assistant, thread.id, tmp_path, before)
    names = {record.filename for record in records}
    assert "nested.txt" in names and "link.txt" not in names  # a planted symlink is never served
    assert not any("escape" in name for name in names)
    assert not any(path.name == "escape-code.txt" for path in files_under(tmp_path))


HOSTILE_PATHS = [
    "/mnt/data/../../../../escape-1.txt",
    "../../escape-2.txt",
    "/etc/cron.d/escape-3",
    "..\\..\\escape-4.txt",
    "..",
    "",
    ".bashrc",
    "x" * 300 + ".txt",
    "nul\u0000byte.txt",
    "/mnt/data/sub/../../../escape-5.txt",
]


def test_a_provider_listing_hostile_container_paths_cannot_write_outside_the_thread_folder(deep_server, tmp_path):
    server, _ = deep_server

    def hostile(listing: dict) -> dict:
        for number, file in enumerate(listing["data"]):
            file["path"] = HOSTILE_PATHS[number % len(HOSTILE_PATHS)]
        return listing

    code = (
        f"```python\nfor n in range({len(HOSTILE_PATHS)}):\n    open(f'f{{n}}.txt', 'w').write(str(n))\n"
        "print('done')\n```"
    )
    with (
        MisbehavingProvider(server.base_url) as provider,
        Assistant(
            base_url=provider.base_url,
            api_key=TEST_KEY,
            db_path=tmp_path / "data" / "index.db",
            max_retries=0,
            strict_validation=True,
        ) as assistant,
    ):
        provider.rewrite_json("GET", r"^/v1/containers/[^/]+/files(\?|$)", hostile)
        thread = assistant.thread(tools=["code_interpreter"])
        before = files_under(tmp_path)
        assert thread.ask(code).status == "completed"
        records = assert_downloads_stay_in_the_thread_folder(assistant, thread.id, tmp_path, before)
    assert len(records) == len(HOSTILE_PATHS)
    assert sorted(Path(record.path).read_text() for record in records) == sorted(map(str, range(len(records))))


# -- a provider answering with something that is not the API ------------------------------------------------------

NOT_JSON = [b"<html><body><h1>502 Bad Gateway</h1></body></html>", b'{"id": "conv_1", "object": "conv', b""]


@pytest.fixture
def assistant_via(provider, tmp_path):
    with Assistant(
        base_url=provider.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0
    ) as assistant:  # lenient, as users run it: the SDK's strict validation would catch some of this itself
        yield assistant


@pytest.mark.parametrize("body", NOT_JSON, ids=["html", "truncated", "empty"])
@pytest.mark.parametrize("content_type", ["text/html", "application/json"])
def test_a_200_that_is_not_json_is_a_clear_error_and_the_turn_failed(provider, assistant_via, body, content_type):
    provider.answer("POST", "^/v1/conversations$", body, content_type=content_type)
    thread = assistant_via.thread()
    with pytest.raises(ServerError, match="not valid JSON") as caught:
        thread.ask("hello")
    assert "\n" not in str(caught.value) and "OPENAI_BASE_URL" in str(caught.value)
    [turn] = thread.history()
    assert turn.status == "failed" and turn.input == "hello"
    assert thread.ask("hello again").status == "completed"  # the next answer is fine again


@pytest.mark.parametrize("body", NOT_JSON, ids=["html", "truncated", "empty"])
def test_listing_models_from_a_provider_answering_html_is_a_clear_error(provider, assistant_via, body):
    provider.answer("GET", "^/v1/models", body)
    with pytest.raises(ServerError, match="not valid JSON"):
        assistant_via.models()


def test_an_upload_answered_with_html_fails_that_file_alone(provider, assistant_via, tmp_path):
    thread = assistant_via.thread()
    (tmp_path / "one.txt").write_text("first file")
    (tmp_path / "two.txt").write_text("second file")
    provider.answer("POST", "^/v1/files$", NOT_JSON[0])
    first, second = assistant_via.files.add(thread.id, [tmp_path / "one.txt", tmp_path / "two.txt"], wait_s=30)
    assert first.status == "failed" and "not valid JSON" in first.error
    assert second.status == "completed"
    assert [record.filename for record in assistant_via.files.list(thread.id)] == ["two.txt"]


@pytest.mark.parametrize(
    "body,content_type", [(NOT_JSON[0], "text/html"), (b'{"id": "resp_1"}', "application/json")], ids=["html", "json"]
)
def test_a_stream_request_answered_without_events_is_a_failed_turn(provider, assistant_via, body, content_type):
    thread = assistant_via.thread()
    thread.ask("first")
    provider.answer("POST", "^/v1/responses$", body, content_type=content_type)
    with pytest.raises(TurnFailed, match="without a single event"):
        thread.ask("second")
    assert [turn.status for turn in thread.history()] == ["completed", "failed"]


@pytest.mark.parametrize(
    "line",
    [b'data: {"type": "response.output_text.delta", "delta": "x"\n\n', b"data: <html>\n\n"],
    ids=["truncated", "html"],
)
def test_an_event_that_is_not_json_ends_the_turn_incomplete_with_what_arrived(provider, assistant_via, line):
    thread = assistant_via.thread()
    provider.corrupt_next_stream(after_events=8, line=line)
    deltas = []
    with pytest.raises(TurnFailed, match="not valid JSON") as caught:
        for event in thread.stream("count to 100"):
            if event.type == "text.delta":
                deltas.append(event.text)
    turn = caught.value.turn
    assert turn.status == "incomplete" and deltas and turn.text == "".join(deltas)


def test_the_cli_says_one_line_when_the_provider_answers_html(provider, tmp_path):
    env = environment(OPENAI_BASE_URL=provider.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "i.db"))
    provider.answer("POST", "^/v1/conversations$", NOT_JSON[0])
    line = assert_one_error_line(cli("ask", "hello", env=env))
    assert "not valid JSON" in line and provider.base_url in line
