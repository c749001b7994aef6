"""The approval dialog asks before one of the user's functions runs, and structured answers show as JSON."""

from __future__ import annotations

import asyncio
import json

from textual.app import App

from assistant import Turn
from assistant.functions import FunctionCall
from tui.screens.approval import ApprovalScreen, dialog_approver
from tui.structured_view import structured_markdown


async def _answer(key: str) -> bool:
    app = App()
    async with app.run_test() as pilot:
        approve = dialog_approver(app)
        asked = asyncio.ensure_future(approve(FunctionCall("call_1", "delete_file", '{"path": "notes.txt"}')))
        await pilot.pause()
        assert isinstance(app.screen, ApprovalScreen)
        assert "notes.txt" in str(app.screen.query_one("#arguments").render())
        await pilot.press(key)
        return await asyncio.wait_for(asked, 5)


def test_the_dialog_allows_and_denies():
    assert asyncio.run(_answer("y")) is True
    assert asyncio.run(_answer("n")) is False
    assert asyncio.run(_answer("escape")) is False


def test_structured_answers_are_indented_json():
    turn = Turn(
        id=1,
        thread_id="thr_1",
        seq=1,
        status="completed",
        input="q",
        text='{"city": "Paris", "t": 21}',
        model="m",
        backend="responses",
        output_format={"type": "json_schema", "name": "W", "schema": {}},
    )
    assert structured_markdown(turn) == "```json\n" + json.dumps({"city": "Paris", "t": 21}, indent=2) + "\n```"
    assert (
        structured_markdown(
            Turn(id=1, thread_id="t", seq=1, status="completed", input="q", text="hi", model="m", backend="responses")
        )
        is None
    )
