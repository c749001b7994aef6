"""Input the command line cannot use ends in one line on stderr and exit code 1, never a traceback: here for input
that used to raise past the CLI's error handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli import main
from assistant.compare_input import load_conversations


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_an_unknown_tool_is_one_error_line_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASSISTANT_DB", str(tmp_path / "index.db"))
    monkeypatch.setenv("ASSISTANT_LOCAL_ENGINE", "reference")
    assert main(["ask", "--new", "--tools", "web,bogus", "hello"]) == 1
    assert "Unknown tool 'bogus'" in error_line(capsys)  # the only line: no embedded server was started
    assert not (tmp_path / "index.db").exists()  # nor the index opened


def test_migrate_names_a_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = tmp_path / "request.json"
    body.write_bytes(b'\xff\xfe{"messages": []}')
    assert main(["migrate", str(body)]) == 1
    assert error_line(capsys) == f"error: {body} is not UTF-8 text (byte 0): give it a JSON request body"


def test_compare_skips_a_line_python_cannot_read(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text('"hello"\n' + "1" * 5000 + "\n", encoding="utf-8")  # valid JSON, over Python's 4,300 digits
    loaded = load_conversations(log)
    assert [conversation.turns for conversation in loaded.conversations] == [["hello"]]
    [skipped] = loaded.skipped
    assert skipped.line == 2 and skipped.reason.startswith("cannot be read (Exceeds the limit (4300 digits)")
