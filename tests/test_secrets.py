"""The API key reaches no file the project writes: after a session that uses every part (turns, tools, files,
errors, search, doctor, compare), no byte of any file in the data folder holds it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assistant.server import LocalServer
from tests.server.tools_server import DOCUMENTS, tool_settings, write_corpus
from tests.support.cli import environment, run_cli

KEY = "sk-proj-" + "Zq9" * 16  # looks like a real project key
WRONG_KEY = "sk-wrong-" + "Xy7" * 14


@pytest.mark.sqlite_only  # it reads the index file; tests/test_postgres.py scans a PostgreSQL index's rows
def test_a_full_session_leaves_the_key_in_no_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "server").mkdir()
    for name, content in DOCUMENTS.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "script.jsonl").write_text('{"turns": ["hello", "what did I say first?"]}\n')
    settings = tool_settings(write_corpus(tmp_path / "corpus"))
    with LocalServer(db_path=tmp_path / "server" / "server.db", api_key=KEY, tool_settings=settings) as server:
        env = environment(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=KEY, ASSISTANT_DB=str(data / "index.db"))

        def run(*args: str, key_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
            result = run_cli(*args, env=key_env or env, timeout=120, cwd=tmp_path)
            assert KEY not in result.stdout + result.stderr
            return result

        assert run("ask", "--new", "--tools", "web,files,code", "hello").returncode == 0
        assert run("files", "add", str(tmp_path / "paris.txt"), str(tmp_path / "berlin.md")).returncode == 0
        assert run("ask", "What is the capital of France?").returncode == 0
        assert run("ask", "What is 17*23?").returncode == 0
        assert run("ask", "search the latest on asyncio TaskGroup").returncode == 0
        assert run("ask", "--model", "no-such-model", "hi").returncode == 1
        wrong = run("ask", "hi", key_env={**env, "OPENAI_API_KEY": WRONG_KEY})
        assert wrong.returncode == 1 and WRONG_KEY not in wrong.stderr
        assert run("search", "capital").returncode == 0
        assert run("doctor").returncode == 0
        assert run("config").returncode == 0
        assert run("compare", str(tmp_path / "script.jsonl"), "--report", str(data / "report.html")).returncode == 0

    written = [path for path in data.rglob("*") if path.is_file()]
    assert any(path.name == "index.db" for path in written) and any(path.suffix == ".html" for path in written)
    for path in written:
        content = path.read_bytes()
        assert KEY.encode() not in content, path
        assert WRONG_KEY.encode() not in content, path
        assert b"Zq9Zq9Zq9" not in content, path  # not even a fragment of it
    leaked = [
        path for path in Path(tmp_path / "server").rglob("*") if path.is_file() and KEY.encode() in path.read_bytes()
    ]
    assert leaked == []  # the local server stores no client key either
