"""Commands import only what they use (issue #17): the commands that read or rearrange the index never load the
openai SDK, Textual, the server's web stack or llama.cpp. Each runs as a whole process under
`python -X importtime`, whose report lists every module the process imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assistant.index.store import IndexStore
from tests.support.cli import environment

HEAVY = ("openai", "textual", "starlette", "uvicorn", "llama_cpp")


def imported_packages(*args: str, env: dict[str, str], input: str | None = None) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assistant.cli", *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


# The import report is the same whatever holds the index; one backend is enough.
@pytest.mark.sqlite_only
def test_commands_that_only_use_the_index_load_neither_the_sdk_nor_the_app_nor_the_server(tmp_path):
    db = tmp_path / "index.db"
    store = IndexStore(db)
    thread = store.create_thread(model="gpt-4.1-mini", title="imports")
    store.close()
    env = environment(ASSISTANT_DB=str(db))
    commands: list[tuple[tuple[str, ...], str | None]] = [
        (("--help",), None),
        (("threads",), None),
        (("threads", "--json"), None),
        (("show", thread.id), None),
        (("search", "imports"), None),
        (("mode", thread.id, "local"), None),
        (("fork", thread.id, "--at", "0"), None),
        (("migrate", "-"), '{"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}'),
    ]
    for args, stdin in commands:
        packages = imported_packages(*args, env=env, input=stdin)
        assert "assistant" in packages  # the report was read
        loaded = sorted(set(HEAVY) & packages)
        assert not loaded, f"assistant {' '.join(args)} imported {', '.join(loaded)}"
