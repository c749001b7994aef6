"""Many code interpreter calls at once on the local server, through the real SDK (strict): a bounded number of
sandboxes run, the rest are refused with a clear 429 or wait their turn for a bounded time, and requests that
run no code are answered meanwhile. Each test runs in every isolation mode this machine offers."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from assistant.server import LocalServer
from assistant.tools import isolation_available

from .conftest import make_client
from .tools_server import SANDBOX_LIMITS, tool_settings, write_corpus

MODEL = "gpt-4.1-mini"
CODE = [{"type": "code_interpreter", "container": {"type": "auto"}}]
MODES = [mode for mode in ("bwrap", "unshare", "rlimits") if isolation_available(mode)]
SLEEPING = "```python\nimport time\nprint('start', time.time())\ntime.sleep({seconds})\nprint('end', time.time())\n```"


def code_logs(response: openai.types.responses.Response) -> str:
    call = response.output[0]
    assert call.type == "code_interpreter_call"
    return "".join(output.logs for output in call.outputs or [] if output.type == "logs")


@pytest.mark.parametrize("mode", MODES)
def test_sleeping_code_never_starves_other_requests(mode: str, tmp_path: Path) -> None:
    # More code requests at once than the server has shared worker threads (40): before the code lane they
    # held every one of them, and a model listing waited for the code to finish.
    settings = tool_settings(
        write_corpus(tmp_path / "corpus"),
        sandbox_isolation=mode,
        sandbox_limits=dataclasses.replace(SANDBOX_LIMITS, wall_seconds=30),
        code_calls_at_once=2,
        code_calls_waiting=2,
    )
    with (
        LocalServer(db_path=tmp_path / "server.db", tool_settings=settings) as server,
        make_client(server, timeout=120) as client,
    ):

        def ask(_: int) -> tuple[str, object, float]:
            try:
                response = client.responses.create(
                    model=MODEL, input=SLEEPING.format(seconds=4), tools=CODE, include=["code_interpreter_call.outputs"]
                )
                return "ran", response, time.monotonic()
            except openai.RateLimitError as error:
                return "refused", error, time.monotonic()

        with ThreadPoolExecutor(45) as pool:
            asked = [pool.submit(ask, number) for number in range(45)]
            time.sleep(1.5)  # the admitted cells are asleep by now
            models = client.models.list()
            text = client.responses.create(model=MODEL, input="hello there")
            answered = time.monotonic()
            outcomes = [future.result() for future in asked]
        assert models.data and text.status == "completed" and text.output_text
        ran = [(response, done) for kind, response, done in outcomes if kind == "ran"]
        refused = [error for kind, error, _ in outcomes if kind == "refused"]
        assert answered < min(done for _, done in ran)  # while every admitted cell was still asleep
        assert len(ran) + len(refused) == 45 and 2 <= len(ran) <= 4
        assert all("try again in a moment" in str(error) for error in refused)
        spans = []
        for response, _ in ran:
            logs = code_logs(response)  # type: ignore[arg-type]
            assert response.status == "completed" and "end" in logs, logs  # type: ignore[attr-defined]
            times = {line.split()[0]: float(line.split()[1]) for line in logs.splitlines()}
            spans.append((times["start"], times["end"]))
        most_at_once = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
        assert most_at_once <= 2


@pytest.mark.parametrize("mode", MODES)
def test_a_code_call_that_waits_too_long_for_its_turn_fails_clearly(mode: str, tmp_path: Path) -> None:
    # Background responses run on threads of their own: the sandbox's own cap is what holds them back.
    settings = tool_settings(
        write_corpus(tmp_path / "corpus"), sandbox_isolation=mode, code_calls_at_once=1, code_call_wait_s=0.5
    )
    with LocalServer(db_path=tmp_path / "server.db", tool_settings=settings) as server, make_client(server) as client:
        started = [
            client.responses.create(
                model=MODEL,
                input=SLEEPING.format(seconds=2),
                tools=CODE,
                background=True,
                include=["code_interpreter_call.outputs"],
            )
            for _ in range(2)
        ]
        finished = []
        for response in started:
            while response.status in ("queued", "in_progress"):
                time.sleep(0.1)
                response = client.responses.retrieve(response.id, include=["code_interpreter_call.outputs"])
            finished.append(response)
        calls = sorted((response.output[0] for response in finished), key=lambda call: call.status)
        assert [call.status for call in calls] == ["completed", "failed"]
        failed_logs = "".join(output.logs for output in calls[1].outputs or [] if output.type == "logs")
        assert "already running 1 code interpreter calls" in failed_logs
        assert "end" in "".join(output.logs for output in calls[0].outputs or [] if output.type == "logs")
