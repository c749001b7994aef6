"""`compare()` and `assistant compare` end to end against the local server (real SDK, strict, real HTTP): script
and transcript inputs, bad input, the JSON report contract, the HTML chart, and the index records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.compare import compare, similarity
from assistant.compare_input import CompareInputError, load_conversations
from assistant.compare_report import to_html, write_report
from assistant.pricing import load_prices

from .conftest import TEST_KEY, environment

TURN_FIELDS = {"request_bytes", "input_tokens", "cached_tokens", "output_tokens", "ttft_ms", "latency_ms", "cost_usd",
               "tool_calls", "text"}
SCRIPT = """\
conversations:
  - name: memory
    instructions: Be brief.
    turns:
      - my name is Ada
      - I like tea
      - what did I say first?
      - what are your instructions?
  - name: maths
    turns: ["What is 17*23?"]
"""


def test_a_script_runs_through_both_backends_and_is_recorded(assistant: Assistant, tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(SCRIPT)
    seen: list[tuple[int, int]] = []
    report = compare(assistant, load_conversations(script), tools="code",
                     progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 10) and seen[-1] == (10, 10) and len(seen) == 11

    memory, maths = report.conversations
    for backend in ("responses", "chat"):
        assert [turn.text for turn in memory.runs[backend].turns][2:] == [
            'You first said: "my name is Ada"', 'My instructions are: "Be brief."']
        assert maths.runs[backend].turns[0].tool_calls == 1 and "391" in maths.runs[backend].turns[0].text
    assert memory.similarity == [1.0, 1.0, 1.0, 1.0]

    # The headline: Chat resends the whole history, so what it sends grows turn by turn; Responses sends only
    # the new message (turn 1 also creates the conversation).
    chat_bytes = [turn.request_bytes for turn in memory.runs["chat"].turns]
    responses_bytes = [turn.request_bytes for turn in memory.runs["responses"].turns]
    assert all(later - earlier > 100 for earlier, later in zip(chat_bytes, chat_bytes[1:]))
    assert max(responses_bytes[1:]) < 1.5 * min(responses_bytes[1:]) and responses_bytes[-1] < chat_bytes[-1]
    chat_input = [turn.input_tokens for turn in memory.runs["chat"].turns]
    assert chat_input == sorted(chat_input) and chat_input[-1] > chat_input[0]

    # Hosted tools ran on the client in chat mode: priced per call only on the Responses side.
    responses_turn, chat_turn = maths.runs["responses"].turns[0], maths.runs["chat"].turns[0]
    prices = load_prices()
    assert responses_turn.cost_usd == pytest.approx(prices.cost("gpt-4.1-mini", responses_turn.input_tokens, 0,
                                                                responses_turn.output_tokens))
    assert chat_turn.cost_usd is not None and chat_turn.cost_usd > 0

    # Both threads are in the index, titled and linked by a comparison record.
    records = assistant.store.comparisons(run_id=report.run_id)
    assert sorted(record.name for record in records) == ["maths", "memory"]
    record = next(record for record in records if record.name == "memory")
    responses_thread = assistant.thread(id=record.responses_thread_id)
    chat_thread = assistant.thread(id=record.chat_thread_id)
    assert (responses_thread.title, responses_thread.mode) == ("compare: memory (responses)", "conversation")
    assert (chat_thread.title, chat_thread.mode) == ("compare: memory (chat)", "chat")
    assert [turn.backend for turn in chat_thread.history()] == ["chat"] * 4
    assert record.summary["chat"]["request_bytes"] == sum(chat_bytes)
    assert assistant.store.comparisons(thread_id=chat_thread.id)[0].id == record.id


def test_transcripts_replay_user_turns_and_keep_the_recorded_answers(assistant: Assistant, tmp_path: Path) -> None:
    log = tmp_path / "chat-log.jsonl"
    log.write_text("\n".join([
        json.dumps({"messages": [{"role": "system", "content": "You are terse."},
                                 {"role": "user", "content": "hello"},
                                 {"role": "assistant", "content": "Hi!"},
                                 {"role": "user", "content": [{"type": "text", "text": "what are your instructions?"}]},
                                 {"role": "assistant", "content": "To be terse."}]}),
        '{"messages": [broken',
        json.dumps({"messages": [{"role": "system", "content": "only a system message"}]}),
        "",
    ]))
    loaded = load_conversations(log)
    assert [(skip.line, skip.reason) for skip in loaded.skipped] == [
        (2, "not valid JSON (Expecting value at column 15)"), (3, "the transcript has no user turn to replay")]
    [conversation] = loaded.conversations
    assert conversation.turns == ["hello", "what are your instructions?"]
    assert conversation.references == ["Hi!", "To be terse."]
    report = compare(assistant, loaded)
    data = report.to_dict()
    [entry] = data["conversations"]
    assert [turn["reference"] for turn in entry["turns"]] == ["Hi!", "To be terse."]
    assert entry["chat"]["turns"][1]["text"] == 'My instructions are: "You are terse."'
    assert [skip["line"] for skip in data["skipped"]] == [2, 3]


def test_the_json_report_schema(assistant: Assistant, tmp_path: Path) -> None:
    report = compare(assistant, load_conversations(_jsonl(tmp_path, ["hello", "what did I say first?"])))
    path = tmp_path / "report.json"
    write_report(report, path)
    data = json.loads(path.read_text())
    assert set(data["totals"]) == {"responses", "chat"}
    [entry] = data["conversations"]
    for backend in ("responses", "chat"):
        turns = entry[backend]["turns"]
        assert len(turns) == 2 and all(TURN_FIELDS <= set(turn) for turn in turns)
        assert all(isinstance(turn["request_bytes"], int) and turn["request_bytes"] > 0 for turn in turns)
        assert all(turn["ttft_ms"] > 0 and turn["latency_ms"] >= turn["ttft_ms"] for turn in turns)
        totals = entry[backend]["totals"]
        assert totals["request_bytes"] == sum(turn["request_bytes"] for turn in turns)
        assert totals["input_tokens"] == sum(turn["input_tokens"] for turn in turns)
        assert data["totals"][backend]["turns"] == 2
    assert entry["turns"][1]["similarity"] == 1.0


def test_the_html_report_has_the_chart_of_bytes_and_tokens_per_turn(assistant: Assistant, tmp_path: Path) -> None:
    report = compare(assistant, load_conversations(_jsonl(tmp_path, ["one", "two", "three"])))
    page = to_html(report)
    assert "<script" not in page
    assert page.count("<svg") == 2 and 'data-metric="request_bytes"' in page and 'data-metric="input_tokens"' in page
    for backend in ("responses", "chat"):
        assert page.count(f'data-backend="{backend}"') == 2
    chat_line = page.split('data-backend="chat"')[0].rsplit("points=", 1)[-1]
    assert len(chat_line.split()) == 3  # one point per turn


def test_similarity_is_word_level_and_ignores_case_and_punctuation() -> None:
    assert similarity("Hello, World!", "hello world") == 1.0
    assert similarity("", "") == 1.0
    assert similarity("the cat sat", "a dog ran") < 0.5
    assert 0.5 < similarity("the answer is 391", "the answer is 392") < 1.0


def test_bad_input_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    with pytest.raises(CompareInputError, match="is empty"):
        load_conversations(empty)
    nothing = tmp_path / "nothing.jsonl"
    nothing.write_text('{"messages": [{"role": "assistant", "content": "hi"}]}\nnope\n')
    with pytest.raises(CompareInputError, match=r"no conversation to replay \(line 1: the transcript has no user "
                                                r"turn to replay; line 2: not valid JSON"):
        load_conversations(nothing)


def test_price_overrides_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"my-model": {"input": 1.0, "output": 2.0}},
                                  "tool_calls": {"web_search_call": 0.5}}))
    table = load_prices(prices)
    assert table.cost("my-model", 1_000_000, 0, 1_000_000, {"web_search_call": 2}) == pytest.approx(4.0)
    monkeypatch.setenv("ASSISTANT_PRICES", str(prices))
    assert load_prices().cost("my-model", 0, 0, 0, {"web_search_call": 1}) == pytest.approx(0.5)
    prices.write_text('{"models": {"x": {"input": "cheap"}}}')
    with pytest.raises(ValueError, match="models.x needs numbers"):
        load_prices(prices)


def test_the_command_prints_a_table_writes_reports_and_reports_bad_lines(server, tmp_path: Path) -> None:
    env = environment(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "i.db"))
    script = tmp_path / "turns.jsonl"
    script.write_text('"hello"\n{"user": "what did I say first?"}\n{oops\n')

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "assistant.cli", "compare", *args], capture_output=True,
                              text=True, env=env, timeout=120, cwd=tmp_path)

    result = run(str(script), "--report", str(tmp_path / "r.md"))
    assert result.returncode == 0, result.stderr
    assert "warning: " in result.stderr and "line 3: not valid JSON" in result.stderr
    assert "2/2 turns" not in result.stderr and "4/4 turns" in result.stderr  # the progress bar: 2 turns x 2 APIs
    assert "responses / chat" in result.stdout and "total" in result.stdout
    assert (tmp_path / "r.md").read_text().startswith("# Responses vs Chat Completions")

    assert run(str(script), "--report", str(tmp_path / "r.html")).returncode == 0
    assert "<svg" in (tmp_path / "r.html").read_text()

    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    result = run(str(empty))
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "is empty" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(str(script), "--report", str(tmp_path / "r.pdf"))
    assert result.returncode == 1 and "name it .md, .json or .html" in result.stderr


def _jsonl(folder: Path, turns: list[str]) -> Path:
    path = folder / "turns.jsonl"
    path.write_text("".join(json.dumps(turn) + "\n" for turn in turns))
    return path
