"""The `assistant` command, run as a real process."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time

import pytest
from openai import OpenAI

from tests.support.cli import CLI, environment, free_port, run_cli, start_cli
from tests.support.fixtures import TEST_KEY
from tests.support.index_backends import beside_index


@pytest.fixture
def env(server, tmp_path):
    return environment(
        OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=TEST_KEY, ASSISTANT_DB=str(tmp_path / "index.db")
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_ask_streams_and_continues_the_latest_thread(env):
    first = run_cli("ask", "hello from the shell", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Reference reply to: hello from the shell\n"
    assert "turn 1" in first.stderr
    second = run_cli("ask", "What did I say first?", env=env)
    assert second.stdout == 'You first said: "hello from the shell"\n'
    assert "turn 2" in second.stderr
    new = run_cli("ask", "--new", "--mode", "chain", "another topic", env=env)
    assert "turn 1" in new.stderr

    threads = json.loads(run_cli("threads", "--json", env=env).stdout)
    assert [(t["title"], t["mode"], t["turn_count"]) for t in threads] == [
        ("another topic", "chain", 1),
        ("hello from the shell", "conversation", 2),
    ]
    shown = json.loads(run_cli("show", threads[1]["id"], "--json", env=env).stdout)
    assert [turn["text"] for turn in shown["turns"]] == [
        "Reference reply to: hello from the shell",
        'You first said: "hello from the shell"',
    ]
    assert shown["conversation_id"].startswith("conv_")
    hits = json.loads(run_cli("search", "shell", "--json", env=env).stdout)
    assert {hit["thread_id"] for hit in hits} == {threads[1]["id"]}
    listing = run_cli("threads", env=env).stdout
    assert "another topic" in listing and "2 turns" in listing


def test_ask_json_and_stdin(env):
    result = run_cli("ask", "--json", "-", env=env, input="a message from stdin\n")
    assert result.returncode == 0, result.stderr
    turn = json.loads(result.stdout)
    assert turn["status"] == "completed"
    assert turn["input"] == "a message from stdin\n"
    assert turn["usage"]["input_tokens"] > 0 and turn["request_bytes"] > 0
    assert [item["direction"] for item in turn["items"]] == ["input", "output"]


def test_errors_are_one_clear_line(env, tmp_path):
    assert "No thread 'thr_nope'" in one_error_line(run_cli("ask", "--thread", "thr_nope", "hi", env=env))
    assert "No thread" in one_error_line(run_cli("show", "thr_nope", env=env))
    line = one_error_line(run_cli("ask", "--model", "gpt-nonexistent", "hi", env=env))
    assert "gpt-nonexistent" in line and "Available:" in line and "gpt-4.1-mini" in line
    assert "empty" in one_error_line(run_cli("ask", "   ", env=env))

    unreachable = {**env, "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    line = one_error_line(run_cli("ask", "--new", "hi", env=unreachable))
    assert unreachable["OPENAI_BASE_URL"] in line

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"garbage" * 100)
    line = one_error_line(run_cli("threads", env={**env, "ASSISTANT_DB": str(corrupt)}))
    assert "not a SQLite database" in line
    assert corrupt.read_bytes() == b"garbage" * 100


def test_rejected_key_says_where_to_fix_it(tmp_path):
    from assistant.server import LocalServer

    with LocalServer(db_path=tmp_path / "server.db", api_key="sk-server-key-000000000000") as server:
        env = environment(
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY="sk-bad-key-1234567890abcdefghij",
            ASSISTANT_DB=str(tmp_path / "index.db"),
        )
        line = one_error_line(run_cli("ask", "hi", env=env))
    assert "rejected" in line and "OPENAI_API_KEY" in line
    assert "sk-bad-key-1234567890abcdefghij" not in line


def test_config_masks_the_key(env, tmp_path):
    (tmp_path / ".env").write_text("ASSISTANT_MODEL=gpt-4o-mini\n")
    result = run_cli("config", env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 0
    assert TEST_KEY not in result.stdout
    assert "OPENAI_API_KEY=sk-...cdef" in result.stdout
    assert "ASSISTANT_MODEL=gpt-4o-mini" in result.stdout  # read from .env


def test_without_a_key_the_embedded_local_server_answers(tmp_path):
    env = environment(ASSISTANT_DB=str(tmp_path / "index.db"))
    result = run_cli("ask", "hello offline", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Reference reply to: hello offline\n"
    assert "embedded local server" in result.stderr
    # Its state survives the process: the next run continues the conversation.
    assert run_cli("ask", "what did I say first?", env=env).stdout == 'You first said: "hello offline"\n'
    assert (beside_index(tmp_path / "index.db") / "local-server.db").exists()


def test_serve_runs_an_openai_compatible_server(tmp_path):
    port = free_port()
    env = environment(ASSISTANT_DB=str(tmp_path / "index.db"))
    with start_cli("serve", "--port", str(port), env=env) as process:
        try:
            client = OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key="anything",
                max_retries=0,
                _strict_response_validation=True,
            )
            deadline = time.monotonic() + 20
            while True:
                try:
                    models = [model.id for model in client.models.list()]
                    break
                except Exception:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.1)
            assert "reference" in models
            response = client.responses.create(model="reference", input="hi over the wire")
            assert response.output_text == "Reference reply to: hi over the wire"
        finally:
            process.terminate()
            process.wait(timeout=20)
    assert (beside_index(tmp_path / "index.db") / "local-server.db").exists()


def test_serve_refuses_a_public_address_without_a_key(tmp_path):
    result = run_cli(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        env=environment(ASSISTANT_DB=str(tmp_path / "index.db")),
        timeout=30,
    )
    assert "api-key" in one_error_line(result).lower() or "key" in one_error_line(result).lower()


def test_hostile_messages_are_cleaned_with_a_warning(env):
    result = run_cli("ask", "--json", "-", env=env, input=b"bad \xff\xfe utf-8 and a NUL \x00 here", text=False)
    assert result.returncode == 0, result.stderr
    assert b"not valid UTF-8" in result.stderr and b"removed 1 NUL" in result.stderr
    turn = json.loads(result.stdout)
    assert turn["input"] == "bad \ufffd\ufffd utf-8 and a NUL  here" and turn["status"] == "completed"


def test_a_huge_paste_goes_through(env):
    paste = "many words " * 500_000  # 5.5 MB
    result = run_cli("ask", "--json", "-", env=env, input=paste.encode(), text=False, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    turn = json.loads(result.stdout)
    assert turn["input"] == paste and turn["status"] == "completed" and turn["request_bytes"] > len(paste)


def test_a_closed_pipe_ends_quietly(env):
    shell = f"{shlex.join(CLI)} ask 'count to 20000' | head -c 10"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout == "1 2 3 4 5 " and "Traceback" not in result.stderr


def test_ask_and_files_continue_the_latest_conversation_never_a_comparison(env, tmp_path):
    first = run_cli("ask", "hello from the shell", env=env)
    thread_id = first.stderr.split("[thread ")[1].split(",")[0]
    script = tmp_path / "turns.yaml"
    script.write_text("- a compared question\n")
    assert run_cli("compare", str(script), env=env).returncode == 0  # two newer threads, both the comparison's

    second = run_cli("ask", "What did I say first?", env=env)
    assert second.stdout == 'You first said: "hello from the shell"\n'
    assert f"[thread {thread_id}, turn 2]" in second.stderr
    assert f"Thread {thread_id} has no files" in run_cli("files", "list", env=env).stderr
    listing = run_cli("threads", env=env).stdout
    assert "   2 turns  hello from the shell" in listing
    assert "    1 turn  compare: turns (chat)" in listing and "1 turns" not in listing


def test_a_comparison_is_never_the_latest_conversation_even_while_it_runs(assistant):
    from assistant.cli import latest_conversation
    from assistant.compare import compare
    from assistant.compare_input import Conversation

    talk = assistant.thread(title="a conversation")
    talk.ask("hello")
    latest_mid_run: list[str | None] = []

    def progress(done: int, total: int) -> None:
        if 0 < done < total:  # the comparison's threads exist and have turns by now
            latest = latest_conversation(assistant)
            latest_mid_run.append(latest.id if latest else None)

    compare(assistant, [Conversation(name="pair", turns=["one", "two"])], progress=progress)
    assert latest_mid_run and set(latest_mid_run) == {talk.id}
    assert latest_conversation(assistant).id == talk.id


def test_without_a_conversation_ask_starts_one_and_files_says_there_is_none(env, tmp_path):
    script = tmp_path / "turns.yaml"
    script.write_text("- a compared question\n")
    assert run_cli("compare", str(script), env=env).returncode == 0
    assert "There is no thread yet" in one_error_line(run_cli("files", "list", env=env))
    started = run_cli("ask", "a question of my own", env=env)
    assert started.returncode == 0 and "turn 1]" in started.stderr


def test_config_lists_every_setting_and_what_answers(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text('{"models": {"my-model": {"input": 1, "output": 2}}}')
    corpus = tmp_path / "pages"
    corpus.mkdir()
    env = environment(
        ASSISTANT_DB=str(tmp_path / "index.db"),
        ASSISTANT_PRICES=str(prices),
        ASSISTANT_WEB_CORPUS=str(corpus),
        ASSISTANT_TIMEOUT="30",
    )
    result = run_cli("config", env=env)
    assert result.returncode == 0, result.stderr
    settings = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert {
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ASSISTANT_MODEL",
        "ASSISTANT_DB",
        "ASSISTANT_TIMEOUT",
        "ASSISTANT_MAX_RETRIES",
        "ASSISTANT_MAX_RETRY_WAIT",
        "ASSISTANT_LOCAL_ENGINE",
        "ASSISTANT_WEB_CORPUS",
        "ASSISTANT_PRICES",
    } <= set(settings)
    assert settings["ASSISTANT_TIMEOUT"] == "30"
    assert settings["ASSISTANT_LOCAL_ENGINE"].startswith("reference: the reference engine")
    assert settings["ASSISTANT_WEB_CORPUS"].startswith(str(corpus))
    assert settings["ASSISTANT_PRICES"] == f"{prices}: the built-in table, with this file's prices over it"
    assert result.stdout.splitlines()[-1].startswith("answers: the embedded local server, with the reference engine")

    prices.write_text("{not json")
    assert run_cli("config", env=env).stdout.count(f"ASSISTANT_PRICES={prices}: cannot be used: ") == 1


def test_config_says_which_engine_answers_without_starting_anything(tmp_path):
    from assistant.server.engines.smollm2 import llama_engine_missing

    env = environment(ASSISTANT_DB=str(tmp_path / "index.db"))
    del env["ASSISTANT_LOCAL_ENGINE"]  # what a user has: the server picks
    probe = (
        "import sys; from assistant.cli import main; main(['config']); "
        "print('llama_cpp imported' if 'llama_cpp' in sys.modules else 'llama_cpp not imported')"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    answers = next(line for line in result.stdout.splitlines() if line.startswith("answers: "))
    missing = llama_engine_missing()
    if missing is None:
        assert (
            answers == "answers: the embedded local server, with the llama engine (SmolLM2-135M-Instruct "
            "through llama.cpp)"
        )
    else:
        assert answers.startswith("answers: the embedded local server, with the reference engine")
        assert missing in answers
    assert result.stdout.rstrip().endswith("llama_cpp not imported")
    assert not list(tmp_path.iterdir())  # no index, no server state: nothing was started
