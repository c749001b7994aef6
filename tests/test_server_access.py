"""Who can use the servers the project starts, and what of a server's address is kept: the embedded server takes
only the key its own library was handed, `assistant serve` reads its key from ASSISTANT_SERVER_API_KEY (the
`--api-key` flag warns that other users can read it), and credentials written into OPENAI_BASE_URL are neither
stored in the index nor printed."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest

from assistant import Assistant
from assistant.client import PLACEHOLDER_KEY
from assistant.errors import ServerUnreachable
from tests.support.cli import environment, free_port, run_cli, start_cli
from tests.support.fixtures import TEST_KEY

# Key-shaped values are built at run time, so no key-like literal sits in the source.
SERVER_KEY = "sk-" + "servekey" * 4
URL_SECRET = "pa55" + "word-in-the-url"


@contextlib.contextmanager
def serving(*args: str, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`assistant serve` on a free port; yields its base URL once it answers (with SERVER_KEY), and the process."""
    port = free_port()
    process = start_cli(
        "serve", "--port", str(port), "--engine", "reference", *args, env=env, stderr=subprocess.PIPE, text=True
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{base_url}/models", headers={"authorization": f"Bearer {SERVER_KEY}"}, timeout=2)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base_url, process
    finally:
        process.terminate()
        process.wait(timeout=20)


def sdk(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, _strict_response_validation=True)


# -- the embedded server -------------------------------------------------------------------------------------------


def test_the_embedded_server_answers_only_its_own_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the data folder, on the PostgreSQL pass
    with Assistant(db_path=tmp_path / "data" / "index.db", max_retries=0, strict_validation=True) as assistant:
        assert assistant.settings.uses_local_server
        thread = assistant.thread()
        assert thread.ask("hello").text == "Reference reply to: hello"
        uploaded = assistant.client.files.create(file=("diary.txt", b"my private diary"), purpose="assistants")
        base_url = assistant.local_server.base_url
        key = assistant.local_server.api_key
        # Another process or local user finds the port, but not the key: nothing to list, nothing to download.
        for headers in ({}, {"authorization": f"Bearer {PLACEHOLDER_KEY}"}):
            for path in ("/files", f"/files/{uploaded.id}/content", "/models"):
                answer = httpx2.get(f"{base_url}{path}", headers=headers)
                assert answer.status_code == 401 and b"diary" not in answer.content
        with sdk(base_url, PLACEHOLDER_KEY) as stranger, pytest.raises(openai.AuthenticationError):
            stranger.files.list()
        assert thread.ask("what did I say first?").text == 'You first said: "hello"'  # the library still works
    assert key and len(key) >= 32 and key != PLACEHOLDER_KEY
    with Assistant(db_path=tmp_path / "data" / "index.db", max_retries=0) as again:
        again.models()
        assert again.local_server.api_key != key  # a new key each start


# -- assistant serve -------------------------------------------------------------------------------------------------


def test_serve_takes_its_key_from_the_environment(tmp_path: Path) -> None:
    env = environment(ASSISTANT_DB=str(tmp_path / "index.db"), ASSISTANT_SERVER_API_KEY=SERVER_KEY)
    with serving(env=env) as (base_url, process):
        with sdk(base_url, SERVER_KEY) as client:
            assert client.responses.create(model="reference", input="hi").output_text == "Reference reply to: hi"
        assert httpx2.get(f"{base_url}/models").status_code == 401
        with sdk(base_url, "sk-" + "not-the-key" * 3) as stranger, pytest.raises(openai.AuthenticationError):
            stranger.models.list()
        assert SERVER_KEY not in Path(f"/proc/{process.pid}/cmdline").read_text()
    stderr = process.stderr.read() if process.stderr else ""
    assert "requests must carry its API key" in stderr and "warning" not in stderr and SERVER_KEY not in stderr


def test_the_api_key_flag_still_works_and_warns_that_others_can_see_it(tmp_path: Path) -> None:
    env = environment(ASSISTANT_DB=str(tmp_path / "index.db"))
    with serving("--api-key", SERVER_KEY, "--allow-origin", "http://localhost:5173", env=env) as (base_url, process):
        with sdk(base_url, SERVER_KEY) as client:
            assert client.models.list().data
        assert httpx2.get(f"{base_url}/models").status_code == 401
        page = {"authorization": f"Bearer {SERVER_KEY}"}
        assert httpx2.get(f"{base_url}/models", headers={**page, "origin": "http://localhost:5173"}).status_code == 200
        assert httpx2.get(f"{base_url}/models", headers={**page, "origin": "http://evil.example"}).status_code == 403
    stderr = process.stderr.read() if process.stderr else ""
    assert "warning: --api-key shows the key to every user of this machine" in stderr
    assert "ASSISTANT_SERVER_API_KEY" in stderr and SERVER_KEY not in stderr


def test_serve_without_a_key_says_who_can_use_it(tmp_path: Path) -> None:
    with (
        serving(env=environment(ASSISTANT_DB=str(tmp_path / "index.db"))) as (base_url, process),
        sdk(base_url, "anything") as client,  # local programs need no key on loopback, as before
    ):
        assert client.models.list().data
    stderr = process.stderr.read() if process.stderr else ""
    assert "any program on this machine may use it; set ASSISTANT_SERVER_API_KEY" in stderr


def test_serve_refuses_an_origin_that_is_not_one(tmp_path: Path) -> None:
    result = run_cli("serve", "--allow-origin", "localhost:3000", env=environment(ASSISTANT_DB=str(tmp_path / "i.db")))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --allow-origin 'localhost:3000' is not a web origin: give the scheme, host and port a browser "
        "shows, with no path, e.g. http://localhost:3000"
    ]


# -- credentials inside a base URL -----------------------------------------------------------------------------------


def with_credentials(base_url: str) -> str:
    return base_url.replace("http://", f"http://proxy-user:{URL_SECRET}@", 1)


def test_credentials_in_the_base_url_are_not_stored(server, tmp_path: Path) -> None:
    with Assistant(
        base_url=with_credentials(server.base_url),
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        max_retries=0,
        strict_validation=True,
    ) as assistant:
        thread = assistant.thread()
        assert thread.ask("hello").status == "completed"
        (tmp_path / "notes.txt").write_text("notes")
        assert [outcome.status for outcome in assistant.files.add(thread.id, [tmp_path / "notes.txt"])] == ["completed"]
        assert assistant.store.thread(thread.id).base_url == server.base_url
        assert URL_SECRET not in assistant.provider
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path.name != "notes.txt"]
    assert written  # on SQLite the index file itself; on PostgreSQL the copy of the upload
    for path in written:
        assert URL_SECRET.encode() not in path.read_bytes(), path


def test_credentials_in_the_base_url_are_not_shown(tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    env = environment(
        OPENAI_BASE_URL=with_credentials(unreachable), OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "index.db")
    )
    config = run_cli("config", env=env)
    assert config.returncode == 0 and f"OPENAI_BASE_URL={unreachable}\n" in config.stdout
    assert URL_SECRET not in config.stdout + config.stderr and "proxy-user" not in config.stdout
    ask = run_cli("ask", "hi", env=env)
    assert ask.returncode == 1 and unreachable in ask.stderr and URL_SECRET not in ask.stderr
    with (
        Assistant(
            base_url=with_credentials(unreachable), api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0
        ) as assistant,
        pytest.raises(ServerUnreachable) as failed,
    ):
        assistant.models()
    assert unreachable in str(failed.value) and URL_SECRET not in str(failed.value)
