"""An index on a read-only disk (a mounted backup, a read-only share): an existing index can be read
(`threads`, `search`, `show`), and whatever would record something says so in one line and exits non-zero. Never
a traceback, and nothing on the disk changes.

SQLite cannot make its WAL index (`-shm`) there, so the file is opened `immutable` (or read-only through a -wal
and -shm left by a writer that did not close). We run as root, for whom chmod changes nothing, so each command
runs in its own mount namespace (`unshare -m`) where the index's folder is bind-mounted read-only: a real
read-only file system.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

import pytest

from assistant import Assistant
from tests.support.cli import CLI, environment
from tests.support.fixtures import TEST_KEY

pytestmark = pytest.mark.sqlite_only  # about the index file's disk; a PostgreSQL index has none here

# Bind-mount $1 onto itself read-only, in a mount namespace of this command alone, then run the rest.
READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'


def run_on_read_only(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        READ_ONLY,
        "sh",
        str(folder),
        *CLI,
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=environment(**env), timeout=60)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a hash of its bytes: what "nothing changed" means."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module", autouse=True)
def read_only_mounts_work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            READ_ONLY,
            "sh",
            str(folder),
            "sh",
            "-c",
            f"touch {folder}/x",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Read-only file system" in probe.stderr, (
        f"these tests need `unshare -m` and bind mounts (root, CAP_SYS_ADMIN): {probe.stderr.strip()}"
    )
    assert not (folder / "x").exists()


def assert_one_clear_line(result: subprocess.CompletedProcess[str], index: Path) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: The index file {index} is on a read-only file system"), lines[0]
    assert "ASSISTANT_DB" in lines[0]


@pytest.fixture
def existing_index(server, tmp_path) -> tuple[Path, str]:
    folder = tmp_path / "data"
    index = folder / "index.db"
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=index) as assistant:
        thread = assistant.thread(title="written before the disk went read-only")
        thread.ask("hello from before")
    return index, thread.id


def run_against(server, index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """An `assistant` command on the read-only disk holding `index`, talking to `server`."""
    return run_on_read_only(
        index.parent, *args, ASSISTANT_DB=str(index), OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=TEST_KEY
    )


@pytest.mark.parametrize("command", [["threads"], ["search", "hello"], ["show", "{thread}"]])
def test_an_existing_index_on_a_read_only_disk_can_be_read(server, existing_index, command):
    index, thread_id = existing_index
    before = snapshot(index.parent)
    result = run_against(server, index, *(part.format(thread=thread_id) for part in command))
    assert result.returncode == 0 and result.stderr == "", result
    assert thread_id in result.stdout or "hello from before" in result.stdout, result.stdout
    assert snapshot(index.parent) == before


def test_an_index_left_open_by_a_killed_writer_is_read_with_what_its_wal_holds(server, existing_index):
    index, thread_id = existing_index
    writer = sqlite3.connect(index)  # a writer that never closes: its -wal and -shm stay beside the file
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE threads SET title = 'renamed in the wal' WHERE id = ?", (thread_id,))
    writer.commit()
    try:
        before = snapshot(index.parent)
        result = run_against(server, index, "threads")
        assert result.returncode == 0, result
        assert "renamed in the wal" in result.stdout
        assert snapshot(index.parent) == before
    finally:
        writer.close()


@pytest.mark.parametrize("command", [["ask", "hello again"], ["ask", "--thread", "{thread}", "more"]])
def test_recording_on_a_read_only_disk_is_one_clear_line(server, existing_index, command):
    index, thread_id = existing_index
    before = snapshot(index.parent)
    result = run_against(server, index, *(part.format(thread=thread_id) for part in command))
    assert_one_clear_line(result, index)
    assert snapshot(index.parent) == before


def test_the_embedded_server_is_not_started_on_a_read_only_disk(existing_index):
    # Without a key or base URL the embedded server would keep its state beside the index: the index's
    # refusal comes first, and nothing is started or written.
    index, _ = existing_index
    before = snapshot(index.parent)
    result = run_on_read_only(index.parent, "ask", "hello", ASSISTANT_DB=str(index))
    assert_one_clear_line(result, index)
    assert snapshot(index.parent) == before


@pytest.mark.parametrize("where", ["index.db", "new folder/index.db"])
def test_a_new_index_on_a_read_only_disk_is_one_clear_line(tmp_path, where):
    folder = tmp_path / "read-only"
    folder.mkdir()
    index = folder / where
    for command in (["threads"], ["ask", "hello"]):
        result = run_on_read_only(folder, *command, ASSISTANT_DB=str(index))
        assert result.returncode == 1 and "Traceback" not in result.stderr, result
        [line] = result.stderr.strip().splitlines()
        assert "Read-only file system" in line or "read-only file system" in line, line
        assert "ASSISTANT_DB" in line
    assert list(folder.iterdir()) == []
