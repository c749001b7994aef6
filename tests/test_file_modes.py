"""Files the project writes are its user's alone: after a session that makes every kind of file (the index and
its -wal/-shm, the embedded server's state and uploads, the index's copies of uploads, files downloaded from
code runs, a compare report), every file is 0600 and every folder 0700, under the usual umask 022.

Container folders are the exception by design: they are handed to the sandbox's user (tools/code_sandbox.py).
Their root is 0700, which keeps every other user out of all of them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.compare import compare
from assistant.compare_input import load_conversations
from assistant.compare_report import write_report
from assistant.private_files import create_private_file, make_private_folder, write_private_file
from tests.test_hosted_tools import PNG_CODE


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """Umask 022, as on most machines: without explicit modes, files would be 0644 and folders 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[Path, int]:
    """The permission bits of everything under `root`, except what sandboxes own inside a containers root."""
    found: dict[Path, int] = {}
    for folder, folders, files in os.walk(root):
        if Path(folder).name == "containers":
            folders.clear()  # each container's folder belongs to its sandbox
            continue
        for name in folders + files:
            path = Path(folder) / name
            found[path] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_a_session_leaves_only_private_files_and_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, usual_umask: None
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the data folder, on the PostgreSQL pass
    data = tmp_path / "home" / "data"  # neither exists yet: the project makes them
    (tmp_path / "notes.txt").write_text("the needle is zanzibar")
    (tmp_path / "script.jsonl").write_text('{"turns": ["hello", "what did I say first?"]}\n')
    with Assistant(db_path=data / "index.db", max_retries=0, strict_validation=True) as assistant:
        assert assistant.settings.uses_local_server  # its state goes beside the index too
        thread = assistant.thread(tools=["code_interpreter", "file_search"])
        assert thread.ask(PNG_CODE).status == "completed"
        assert [outcome.status for outcome in assistant.files.add(thread.id, [tmp_path / "notes.txt"])] == ["completed"]
        chat = assistant.thread(mode="chat", tools=["code_interpreter"])  # its tools run here, in the data folder
        assert chat.ask(PNG_CODE).status == "completed"
        report = compare(assistant, load_conversations(tmp_path / "script.jsonl"))
        write_report(report, data / "report.md")
        data_dir = assistant.settings.data_dir
        downloads = [Path(record.path) for record in assistant.store.container_files(thread.id)]
        found = modes(data) | modes(data_dir)  # while the databases are open, with their -wal and -shm
        index_is_a_file = assistant.store.connection.dialect == "sqlite"

    names = {path.name for path in found}
    assert {
        "local-server.db",
        "local-server.db-wal",
        "local-server.db-shm",
        "uploads",
        "containers",
        "files",
        "dot.png",
        "report.md",
    } <= names
    assert downloads and all(path in found for path in downloads)
    if index_is_a_file:  # the SQLite pass
        assert {"index.db", "index.db-wal", "index.db-shm"} <= names
    loose = {
        str(path.relative_to(tmp_path)): oct(mode)
        for path, mode in found.items()
        if mode != (0o700 if path.is_dir() else 0o600)
    }
    assert loose == {}
    for folder in (data, data.parent, data_dir):  # made by the project, parents included
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_modes_are_given_at_creation_and_existing_modes_are_kept(tmp_path: Path, usual_umask: None) -> None:
    make_private_folder(tmp_path / "a" / "b")
    create_private_file(tmp_path / "a" / "b" / "state.db")
    write_private_file(tmp_path / "a" / "report.md", b"report")
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in (tmp_path / "a").rglob("*")} | {
        "a": oct(stat.S_IMODE((tmp_path / "a").stat().st_mode))
    } == {"a": "0o700", "b": "0o700", "state.db": "0o600", "report.md": "0o600"}
    # A file or folder the user made keeps the mode they gave it; only its content is written.
    shared = tmp_path / "shared.md"
    shared.write_text("old")
    shared.chmod(0o644)
    write_private_file(shared, b"new")
    assert shared.read_text() == "new" and stat.S_IMODE(shared.stat().st_mode) == 0o644
    create_private_file(shared)
    assert shared.read_text() == "new"
