"""The library's public API: what `assistant` exports (the app uses nothing else, an import-linter contract keeps
it so), and the methods that answer what a program wants of the index without reaching into it: the files an
answer may cite, and comparisons."""

from __future__ import annotations

from pathlib import Path

import pytest

import assistant as library
from assistant import BACKENDS, ThreadNotFound

# The reference engine runs a fenced block when the code interpreter is on; this one leaves a file behind.
WRITE_A_FILE = """```python
open('made.txt', 'w').write('made by the code')
print('done')
```"""


def test_every_exported_name_is_there() -> None:
    missing = [name for name in library.__all__ if not hasattr(library, name)]
    assert missing == []


def test_a_new_comparison_is_a_pair_of_threads_recorded_before_either_runs(assistant) -> None:
    ordinary = assistant.thread(title="just a thread")
    record = assistant.new_comparison("greeting", model="gpt-4.1-mini", source="app")

    assert record.name == "greeting" and record.source == "app" and record.summary == {}
    threads = assistant.comparison_threads(record)
    assert list(threads) == list(BACKENDS) == ["responses", "chat"]
    assert {backend: (thread.title, thread.mode, thread.model) for backend, thread in threads.items()} == {
        "responses": ("compare: greeting (responses)", "conversation", "gpt-4.1-mini"),
        "chat": ("compare: greeting (chat)", "chat", "gpt-4.1-mini"),
    }
    assert [thread.id for thread in threads.values()] == [record.responses_thread_id, record.chat_thread_id]
    # Listed newest first, and found from either of its threads; an ordinary thread is no comparison's.
    second = assistant.new_comparison("farewell", instructions="Be brief.", tools=["web_search"], run_id="run_mine")
    assert second.run_id == "run_mine" and second.run_id != record.run_id
    for thread in assistant.comparison_threads(second).values():
        assert thread.model == assistant.settings.model and thread.instructions == "Be brief."
        assert thread.tools.enabled == ["web_search"]
    assert [each.id for each in assistant.comparisons()] == [second.id, record.id]
    assert [each.id for each in assistant.comparisons(thread_id=record.chat_thread_id)] == [record.id]
    assert assistant.comparisons(thread_id=ordinary.id) == []
    assert [each.id for each in assistant.comparisons(limit=1)] == [second.id]


def test_a_comparison_whose_thread_was_deleted_cannot_be_opened(assistant) -> None:
    record = assistant.new_comparison("short-lived")
    assistant.delete_thread(record.chat_thread_id, server=False)

    [kept] = assistant.comparisons()
    assert kept.responses_thread_id == record.responses_thread_id and kept.chat_thread_id is None
    with pytest.raises(ThreadNotFound, match="chat thread of “short-lived” was deleted"):
        assistant.comparison_threads(kept)


def test_file_paths_are_the_uploads_and_the_files_the_code_made(assistant, tmp_path: Path) -> None:
    thread = assistant.thread(tools=["code_interpreter", "file_search"])
    assert thread.file_paths() == {}

    (tmp_path / "notes.txt").write_text("the needle is zanzibar")
    [upload] = assistant.files.add(thread.id, [tmp_path / "notes.txt"])
    assert upload.status == "completed"
    assert thread.ask(WRITE_A_FILE).status == "completed"

    paths = thread.file_paths()
    [record] = assistant.files.list(thread.id)
    [made] = assistant.store.container_files(thread.id)
    assert paths == {record.id: record.path, made.file_id: made.path}
    assert Path(paths[record.id]).read_text() == "the needle is zanzibar"
    assert Path(paths[made.file_id]).read_text() == "made by the code"
    # Another thread's files are not this one's.
    assert assistant.thread().file_paths() == {}
