"""`compare()` and `assistant compare` end to end against the local server (real SDK, strict, real HTTP): script
and transcript inputs, bad input, the JSON report contract, the HTML chart, and the index records."""

from __future__ import annotations

import json
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.compare import BackendRun, ComparisonReport, ConversationResult, TurnMetrics, compare, similarity
from assistant.compare_input import CompareInputError, Conversation, load_conversations
from assistant.compare_report import markdown, table, to_html, write_report
from assistant.pricing import load_prices
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY

TURN_FIELDS = {
    "request_bytes",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "ttft_ms",
    "latency_ms",
    "cost_usd",
    "tool_calls",
    "text",
}
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
    report = compare(
        assistant, load_conversations(script), tools="code", progress=lambda done, total: seen.append((done, total))
    )
    assert seen[0] == (0, 10) and seen[-1] == (10, 10) and len(seen) == 11

    memory, maths = report.conversations
    for backend in ("responses", "chat"):
        assert [turn.text for turn in memory.runs[backend].turns][2:] == [
            'You first said: "my name is Ada"',
            'My instructions are: "Be brief."',
        ]
        assert maths.runs[backend].turns[0].tool_calls == 1 and "391" in maths.runs[backend].turns[0].text
    assert memory.similarity == [1.0, 1.0, 1.0, 1.0]

    # The headline: Chat resends the whole history, so what it sends grows turn by turn; Responses sends only
    # the new message (turn 1 also creates the conversation).
    chat_bytes = [turn.request_bytes for turn in memory.runs["chat"].turns]
    responses_bytes = [turn.request_bytes for turn in memory.runs["responses"].turns]
    assert all(later - earlier > 100 for earlier, later in pairwise(chat_bytes))
    assert max(responses_bytes[1:]) < 1.5 * min(responses_bytes[1:]) and responses_bytes[-1] < chat_bytes[-1]
    chat_input = [turn.input_tokens for turn in memory.runs["chat"].turns]
    assert chat_input == sorted(chat_input) and chat_input[-1] > chat_input[0]

    # The local reference engine answered: each turn costs $0, and what it would have cost at the comparison
    # model's prices is an estimate, kept apart from the cost.
    responses_turn, chat_turn = maths.runs["responses"].turns[0], maths.runs["chat"].turns[0]
    prices = load_prices()
    for turn in (responses_turn, chat_turn):
        assert turn.answered_by == "reference" and turn.cost_usd == 0.0
        assert (
            turn.estimate_usd
            == pytest.approx(prices.cost("gpt-4.1-mini", turn.input_tokens, turn.cached_tokens, turn.output_tokens))
            and turn.estimate_usd > 0
        )
    assert report.totals("chat").cost_usd == 0.0 and report.totals("chat").estimate_usd > 0
    assert "cost 0.000000 (local, ≈ $" in table(report) and "at gpt-4.1-mini prices)" in table(report)

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
    log.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "messages": [
                            {"role": "system", "content": "You are terse."},
                            {"role": "user", "content": "hello"},
                            {"role": "assistant", "content": "Hi!"},
                            {"role": "user", "content": [{"type": "text", "text": "what are your instructions?"}]},
                            {"role": "assistant", "content": "To be terse."},
                        ]
                    }
                ),
                '{"messages": [broken',
                json.dumps({"messages": [{"role": "system", "content": "only a system message"}]}),
                "",
            ]
        )
    )
    loaded = load_conversations(log)
    assert [(skip.line, skip.reason) for skip in loaded.skipped] == [
        (2, "not valid JSON (Expecting value at column 15)"),
        (3, "the transcript has no user turn to replay"),
    ]
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
        assert len(turns) == 2 and all(set(turn) >= TURN_FIELDS for turn in turns)
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


def test_the_reports_show_both_answers_of_each_turn(tmp_path: Path) -> None:
    """So that a similarity can be checked by reading the two answers it compares."""
    answers = {
        "responses": ["Paris is the capital of France.", "About 2.1 million people.\n- in the city"],
        "chat": ["The capital is Paris.", ""],
    }

    def turns(backend: str) -> list[TurnMetrics]:
        return [
            TurnMetrics(
                number,
                user,
                "completed" if text else "failed",
                100,
                10,
                0,
                5,
                1.0,
                2.0,
                None,
                0,
                {},
                text,
                None if text else "The stream broke off. <Try again>",
            )
            for number, (user, text) in enumerate(zip(["capital?", "people?"], answers[backend], strict=False), start=1)
        ]

    conversation = Conversation(name="france", turns=["capital?", "people?"])
    runs = {backend: BackendRun(backend, f"thr_{backend}", turns(backend)) for backend in ("responses", "chat")}
    scores = [similarity(first, second) for first, second in zip(answers["responses"], answers["chat"], strict=False)]
    report = ComparisonReport(
        "run_1", "gpt-4.1-mini", None, "2026-01-01T00:00:00+00:00", [ConversationResult(conversation, runs, scores)]
    )
    for suffix in (".md", ".html", ".json"):
        write_report(report, tmp_path / f"report{suffix}")

    page = (tmp_path / "report.md").read_text()
    first, second = page.split("### Answers")[1].split("**Turn 2**")
    assert f"**Turn 1**, similarity {scores[0]:.2f}" in first
    assert (
        first.index("Responses:")
        < first.index("> Paris is the capital of France.")
        < first.index("Chat:")
        < first.index("> The capital is Paris.")
    )
    assert "> About 2.1 million people.\n> - in the city" in second  # quoted line by line: stays in the report
    assert "> [failed: The stream broke off. <Try again>]" in second

    page = (tmp_path / "report.html").read_text()
    answers_table = page.split('<table class="answers">')[1].split("</table>")[0]
    rows = answers_table.split("<tr>")[2:]
    assert "<td>Paris is the capital of France.</td><td>The capital is Paris.</td>" in rows[0]
    assert f"<td>{scores[0]:.2f}</td>" in rows[0]
    assert "[failed: The stream broke off. &lt;Try again&gt;]" in rows[1]

    data = json.loads((tmp_path / "report.json").read_text())
    [entry] = data["conversations"]
    assert [turn["text"] for turn in entry["responses"]["turns"]] == answers["responses"]
    assert [turn["text"] for turn in entry["chat"]["turns"]] == answers["chat"]
    assert [turn["similarity"] for turn in entry["turns"]] == scores


def test_a_count_of_one_is_singular() -> None:
    conversation = Conversation(name="one", turns=["hi"])
    runs = {
        backend: BackendRun(
            backend, f"thr_{backend}", [TurnMetrics(1, "hi", "completed", 1, 1, 0, 1, 1.0, 1.0, None, 0, {}, "hello")]
        )
        for backend in ("responses", "chat")
    }
    report = ComparisonReport("run_1", "gpt-4.1-mini", None, "now", [ConversationResult(conversation, runs, [1.0])])
    assert "responses: 1 turn, " in table(report) and "1 turns" not in table(report) + markdown(report)


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
    with pytest.raises(
        CompareInputError,
        match=r"no conversation to replay \(line 1: the transcript has no user "
        r"turn to replay; line 2: not valid JSON",
    ):
        load_conversations(nothing)


BILLION_LAUGHS = (
    "\n".join(
        ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        + [
            f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ]
        + ["turns: *i"]
    )
    + "\n"
)


def test_yaml_with_aliases_is_refused_before_it_grows(tmp_path: Path) -> None:
    """Nine lines standing for 9^9 strings once took 35 s to end in a MemoryError; one anchor used twice is
    refused too (a script never needs them)."""
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text(BILLION_LAUGHS)
    with pytest.raises(CompareInputError, match=r"refused: it uses a YAML alias \(\*a at line 2, column 8\)"):
        load_conversations(laughs)
    reused = tmp_path / "reused.yaml"
    reused.write_text("turns:\n  - &hi hello\n  - *hi\n")
    with pytest.raises(CompareInputError, match="YAML alias"):
        load_conversations(reused)
    anchored = tmp_path / "anchored.yaml"  # an anchor alone expands nothing
    anchored.write_text("turns: &t\n  - hello\n")
    assert load_conversations(anchored).conversations[0].turns == ["hello"]


def test_input_too_deep_to_read_is_one_line_or_a_skipped_line(tmp_path: Path) -> None:
    deep_yaml = tmp_path / "deep.yaml"
    deep_yaml.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(CompareInputError, match="nested too deeply to read as YAML"):
        load_conversations(deep_yaml)
    deep_line = tmp_path / "deep.jsonl"
    deep_line.write_text('"hello"\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    loaded = load_conversations(deep_line)
    assert loaded.conversations[0].turns == ["hello"]
    assert [(skip.line, skip.reason) for skip in loaded.skipped] == [(2, "nested too deeply to read")]
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00 not text\n")
    with pytest.raises(CompareInputError, match=r"is not UTF-8 text \(byte 0\)"):
        load_conversations(binary)
    prices = tmp_path / "prices.json"
    prices.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply to read"):
        load_prices(prices)
    # A bad turn is quoted in its message, briefly, however big it is.
    huge = tmp_path / "huge.yaml"
    huge.write_text("turns:\n  - [" + ", ".join(["x" * 1000] * 1000) + "]\n")
    with pytest.raises(CompareInputError) as raised:
        load_conversations(huge)
    assert len(str(raised.value)) < len(str(huge)) + 300


def test_the_command_says_each_in_one_line(tmp_path: Path) -> None:
    files = {
        "laughs.yaml": BILLION_LAUGHS.encode(),
        "deep.yaml": b"[" * 100_000 + b"]" * 100_000,
        "binary.jsonl": b"\xff\xfe garbage\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        result = run_cli("compare", str(tmp_path / name), env=environment())
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr


def test_price_overrides_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"models": {"my-model": {"input": 1.0, "output": 2.0}}, "tool_calls": {"web_search_call": 0.5}})
    )
    table = load_prices(prices)
    assert table.cost("my-model", 1_000_000, 0, 1_000_000, {"web_search_call": 2}) == pytest.approx(4.0)
    monkeypatch.setenv("ASSISTANT_PRICES", str(prices))
    assert load_prices().cost("my-model", 0, 0, 0, {"web_search_call": 1}) == pytest.approx(0.5)
    prices.write_text('{"models": {"x": {"input": "cheap"}}}')
    with pytest.raises(ValueError, match=r"models.x needs numbers"):
        load_prices(prices)


def test_the_command_prints_a_table_writes_reports_and_reports_bad_lines(server, tmp_path: Path) -> None:
    env = environment(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "i.db"))
    script = tmp_path / "turns.jsonl"
    script.write_text('"hello"\n{"user": "what did I say first?"}\n{oops\n')

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("compare", *args, env=env, timeout=120, cwd=tmp_path)

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
