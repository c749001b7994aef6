"""The app on a Chat Completions server that falls short: the local server behind a real proxy
(tests/support/misbehaving_provider.py) that hides the Responses API or cuts a stream short."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from tests.support.fixtures import TEST_KEY
from tests.support.misbehaving_provider import MisbehavingProvider
from tui.app import AssistantApp

from .conftest import SIZE, send, started


@pytest.fixture
def app(provider: MisbehavingProvider, tmp_path: Path) -> Iterator[AssistantApp]:
    with Assistant(
        base_url=provider.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0
    ) as assistant:
        yield AssistantApp(assistant)


async def test_a_stream_cut_short_says_why_on_the_turn(app: AssistantApp, provider: MisbehavingProvider):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.draft_mode = "chat"
        provider.corrupt_next_stream(after_events=3, line=b"")  # the role, two words, then the connection closes
        answer = await send(pilot, "hello there")
        assert answer.text == "Reference reply "
        footer = str(answer._footer.content)
        assert footer.startswith(
            "incomplete (the server closed the stream after 16 characters, before the answer finished; check its log)"
        )


async def test_tools_a_server_ignores_are_named_once(app: AssistantApp, provider: MisbehavingProvider):
    not_found = json.dumps({"detail": "Not Found"}).encode()  # what llama-cpp-python's server answers
    provider.answer(
        "POST", "^/v1/(conversations|responses)$", not_found, status=404, content_type="application/json", count=10
    )
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.draft_tools = ["code_interpreter"]
        await send(pilot, "hello there")
        assert screen.thread is not None and screen.thread.mode == "chat"
        await send(pilot, "hello again")
        assert [turn.status for turn in screen.thread.history()] == ["completed", "completed"]
        titles = [notification.title for notification in app._notifications]
        assert titles.count("Thread moved to chat mode") == 1
        assert titles.count("Tools not available on this server") == 1
        [notice] = [n for n in app._notifications if n.title == "Tools not available on this server"]
        assert notice.message.startswith("The model answered without calling the tools offered (code_interpreter)")
