"""Tool calls and citations, from real recorded OpenAI streams (tests/recordings/) replayed over HTTP."""

from __future__ import annotations

import json
import re

from tests.tui.conftest import SIZE, main_screen, send, started, until
from tui.widgets.answer import AnswerText, AssistantAnswer
from tui.widgets.tool_card import ToolCard

WEB_SEARCH = "pydantic-ai__test_openai_responses__test_openai_include_raw_annotations_streaming__00"
WEB_SEARCH_SOURCES = "pydantic-ai__test_openai_responses__test_openai_responses_model_web_search_tool_stream__00"
FILE_SEARCH = "pydantic-ai__test_openai_responses__test_openai_responses_model_file_search_tool_stream__03"
CODE_INTERPRETER = "pydantic-ai__test_openai_responses__test_openai_responses_code_execution_return_image_stream__00"
FUNCTION_CALL = "llm__test_openai_responses__test_responses_tool_use_streaming__00"


def body_text(card: ToolCard) -> str:
    return str(card.body.content)


async def send_in_chain_thread(pilot):
    """Send a message in a new chain-mode thread; return its answer, tool cards, and blocks in order."""
    screen = await started(pilot)
    screen.action_new_thread("chain")
    answer = await send(pilot, "replay")
    blocks = [child for child in answer.children if isinstance(child, (ToolCard, AnswerText))]
    return answer, list(answer.query(ToolCard)), blocks


async def test_web_search_cards_show_queries_in_order_and_citations_are_numbered(replay):
    async with replay(WEB_SEARCH).run_test(size=SIZE) as pilot:
        answer, cards, blocks = await send_in_chain_thread(pilot)
        # Two searches, then the answer: in the order they happened.
        assert [type(block).__name__ for block in blocks] == ["ToolCard", "ToolCard", "AnswerText"]
        first, second = cards
        assert first.title.startswith("Web search · “tallest mountain in Alberta")
        assert first.title.endswith("· done")
        assert "Mount Columbia highest point in Alberta 3747 m" in body_text(second)
        assert "Mount Columbia tallest mountain in Alberta official source" in body_text(second)
        assert all(card.collapsed for card in cards)  # details on demand

        text = answer.query_one(AnswerText).source
        assert text.endswith("utm_source=openai)) \\[1\\]")
        sources = answer.query_one(".sources").source
        assert "1. [Mount Columbia | mountain, Alberta, Canada | Britannica]" in sources
        assert "(https://www.britannica.com/place/Mount-Columbia?utm_source=openai)" in sources


async def test_web_search_card_lists_its_sources(replay):
    async with replay(WEB_SEARCH_SOURCES).run_test(size=SIZE) as pilot:
        _answer, [card], _blocks = await send_in_chain_thread(pilot)
        assert card.title == "Web search · “weather: San Francisco, CA” · 1 source · done"
        assert "Sources" in body_text(card) and "oai-weather" in body_text(card)


async def test_file_search_card_and_file_citation(replay):
    async with replay(FILE_SEARCH).run_test(size=SIZE) as pilot:
        answer, [card], _blocks = await send_in_chain_thread(pilot)
        assert card.title == "File search · “What is the capital of France?” · done"
        assert "What is the capital of France?" in body_text(card)
        assert answer.query_one(AnswerText).source == "The capital of France is Paris. \\[1\\]"
        assert "tmp8l5_2pzy.txt `file-9RhPAs9YqVajpGXRfcgavJ`" in answer.query_one(".sources").source


async def test_code_interpreter_card_shows_highlighted_code_images_and_files(replay):
    async with replay(CODE_INTERPRETER).run_test(size=SIZE) as pilot:
        answer, [card], _blocks = await send_in_chain_thread(pilot)
        assert card.title == "Code interpreter · 1 image · done"
        body = card.body.content
        assert "fig.savefig(out_path, dpi=200)" in str(body)
        assert "\r" not in str(body)
        assert body.spans, "the code is syntax highlighted"
        assert re.search(r"image/png, \d+ bytes \(inline\)", str(body))  # the data URL, not a wall of base64
        # Files the code wrote are cited with their container path.
        sources = answer.query_one(".sources").source
        assert "y_eq_x_squared_plot.png `cntr_68dd936a4cfc81908bdd4f2a2f542b5c0a0e691ad2bfd833/" in sources

        # Clicking the title opens the card.
        await pilot.click(card.query_one("CollapsibleTitle"))
        await until(pilot, lambda: not card.collapsed)
        assert card.body.region.height > 20


async def test_function_call_card_shows_name_and_arguments(replay):
    async with replay(FUNCTION_CALL).run_test(size=SIZE) as pilot:
        _answer, [card], _blocks = await send_in_chain_thread(pilot)
        name = card.item["name"]
        assert card.title == f"Function call · {name}() · done"
        assert name in body_text(card)
        for key in json.loads(card.item["arguments"]):
            assert key in body_text(card)


async def test_a_reopened_thread_shows_the_same_cards_and_citations(replay):
    async with replay(WEB_SEARCH).run_test(size=SIZE) as pilot:
        answer, cards, _blocks = await send_in_chain_thread(pilot)
        live = (
            [card.title for card in cards],
            [body_text(card) for card in cards],
            answer.query_one(AnswerText).source,
            answer.query_one(".sources").source,
        )
        screen = main_screen(pilot.app)
        thread_id = screen.thread.id
        screen.action_new_thread()
        await until(pilot, lambda: not screen.query(ToolCard))
        screen.open_thread(thread_id)
        await until(pilot, lambda: len(screen.query(ToolCard)) == 2)
        reopened = screen.query_one(AssistantAnswer)
        cards = list(reopened.query(ToolCard))
        assert (
            [card.title for card in cards],
            [body_text(card) for card in cards],
            reopened.query_one(AnswerText).source,
            reopened.query_one(".sources").source,
        ) == live
