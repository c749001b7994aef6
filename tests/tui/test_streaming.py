"""A long answer streams as pieces (tui/markdown_pieces.py) and the app keeps answering keys meanwhile.

Timings are measured by bench/tui_stream.py, never asserted here."""

from __future__ import annotations

import pytest

from assistant import Assistant
from tests.tui.conftest import SIZE, main_screen, until
from tui.app import AssistantApp
from tui.markdown_pieces import Context, next_cut, pieces
from tui.widgets.answer import AnswerPiece, AnswerText, AssistantAnswer

PARAGRAPH = " ".join(str(number) for number in range(1, 3000))
LIST = "\n".join(f"- item {number}" for number in range(1, 400))
CODE = "```python\n" + "\n".join(f"x_{number} = {number}  # line {number}" for number in range(1, 300)) + "\n```"
TABLE = "| n | square |\n|---:|---:|\n" + "\n".join(f"| {number} | {number * number} |" for number in range(1, 300))
MIXED = f"# Title\n\nSome *text* with `code`.\n\n{LIST}\n\n{CODE}\n\nAfter the code.\n\n{TABLE}\n\n{PARAGRAPH}"
SHAPES = {"paragraph": PARAGRAPH, "list": LIST, "code": CODE, "table": TABLE, "mixed": MIXED}


def cuts_while_streaming(text: str, step: int) -> list[int]:
    """The cuts found as `text` arrives `step` characters at a time, then in the rest once it has all arrived
    (as `AnswerText.finish` cuts it)."""
    cuts: list[int] = []
    start, context = 0, Context()
    for end in range(step, len(text) + step, step):
        while (cut := next_cut(text[:end], start, context, final=False)) is not None:
            cuts.append(cut.end)
            start, context = cut.end, cut.after
    while (cut := next_cut(text, start, context, final=True)) is not None:
        cuts.append(cut.end)
        start, context = cut.end, cut.after
    return cuts


def cuts_of_whole(text: str) -> list[int]:
    cuts: list[int] = []
    start, context = 0, Context()
    while (cut := next_cut(text, start, context, final=True)) is not None:
        cuts.append(cut.end)
        start, context = cut.end, cut.after
    return cuts


@pytest.mark.parametrize("shape", SHAPES)
def test_a_streamed_answer_is_cut_where_the_whole_text_is(shape: str):
    text = SHAPES[shape]
    whole = cuts_of_whole(text)
    assert len(whole) > 5  # long enough to be cut many times
    for step in (1, 7, 64):
        assert cuts_while_streaming(text, step) == whole


@pytest.mark.parametrize("shape", SHAPES)
def test_each_piece_renders_on_its_own(shape: str):
    """Pieces cut inside a fence close it and open it again; inside a table they repeat its header."""
    text = SHAPES[shape]
    shown = pieces(text)
    for markdown, _ in shown:
        assert markdown.count("```") % 2 == 0
        if "| " in markdown and shape == "table":
            assert markdown.startswith("| n | square |\n|---:|---:|\n")
    if shape == "paragraph":
        assert "".join(markdown for markdown, _ in shown) == text
        assert all(joined for _, joined in shown[:-1])


def test_a_short_answer_is_one_piece():
    text = "Hello **there**.\n\n- one\n- two\n\n```\ncode\n```"
    assert pieces(text) == [(text, False)]


async def test_keys_typed_while_a_long_answer_streams_arrive_and_esc_cancels_it(
    app: AssistantApp, assistant: Assistant
):
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        await until(pilot, lambda: screen.sidebar.loaded)
        screen.prompt.text = "repeat 100000 words"
        await pilot.press("enter")
        # Far enough that the answer is in several pieces, far from its end.
        await until(pilot, lambda: screen.query(AnswerText) and "word400 " in screen.query_one(AnswerText).streamed)
        await pilot.press(*"typed meanwhile")
        assert screen.prompt.text == "typed meanwhile"
        assert screen.answering  # the keys arrived while the answer still streamed
        await pilot.press("escape")
        await until(pilot, lambda: screen.answer_worker is not None and screen.answer_worker.is_finished)

        [thread] = assistant.threads()
        [turn] = assistant.thread(thread.id).history()
        assert turn.status == "cancelled"
        answer = screen.query_one(AssistantAnswer)
        assert "cancelled" in str(answer.query_one(".answer-footer").content)
        text = answer.query_one(AnswerText)
        assert text.source == turn.text
        # The pieces shown are those the whole text is cut into, as a reopened thread shows them.
        assert [piece.source for piece in text.query_children(AnswerPiece)] == [
            markdown for markdown, _ in pieces(turn.text)
        ]
        assert len(text.query_children(AnswerPiece)) > 1
