"""What the llama engine's prompt keeps of a long conversation (`chat_prompt.fit_prompt`): the system message, the
newest turns within the turn and token budgets, and tool exchanges whole. Pure units: the tokenizer here counts
words, so no model is needed (the engine with the real tokenizer: test_llama_engine.py)."""

from __future__ import annotations

from assistant.server.engines.chat_prompt import (
    Message,
    chat_messages,
    fit_prompt,
    turn_starts,
)
from assistant.server.items import normalize_input

SYSTEM = "You are a helpful assistant."


def words(messages: list[Message]) -> list[int]:
    return [0] * sum(len(message["content"].split()) for message in messages)


def conversation(turns: int, padding: str = "") -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": SYSTEM}]
    for number in range(turns):
        messages.append({"role": "user", "content": f"question {number}{padding}"})
        messages.append({"role": "assistant", "content": f"answer {number}{padding}"})
    messages.append({"role": "user", "content": "the latest question"})
    return messages


def test_a_turn_budget_keeps_the_system_message_and_the_newest_turns():
    fitted = fit_prompt(conversation(6), words, budget=10_000, history_turns=2)
    assert [m["content"] for m in fitted.messages[1:]] == [
        "question 4",
        "answer 4",
        "question 5",
        "answer 5",
        "the latest question",
    ]
    assert fitted.dropped_messages == 8
    assert fitted.messages[0]["content"].startswith(SYSTEM)
    assert "The 8 oldest messages of this conversation were left out" in fitted.messages[0]["content"]


def test_no_turn_budget_keeps_everything_that_fits_and_zero_keeps_only_the_question():
    assert fit_prompt(conversation(6), words, budget=10_000).messages == conversation(6)
    assert fit_prompt(conversation(6), words, budget=10_000, history_turns=6).messages == conversation(6)
    alone = fit_prompt(conversation(6), words, budget=10_000, history_turns=0)
    assert [m["content"] for m in alone.messages[1:]] == ["the latest question"]


def test_a_token_budget_drops_the_oldest_turns_two_at_a_time():
    messages = conversation(6, padding=" word" * 18)  # 5 + 6 * 40 + 3 = 248 words
    assert len(fit_prompt(messages, words, budget=248).tokens) == 248  # fits: nothing left out
    fitted = fit_prompt(messages, words, budget=247)
    # Over by one: two whole turns go (a stable cut for the prefix cache), with the notice that says so.
    assert fitted.messages[1]["content"].startswith("question 2 ") and fitted.dropped_messages == 4
    assert fitted.messages[-1]["content"] == "the latest question" and len(fitted.tokens) <= 247
    # Both budgets: the turn budget first, then the token budget drops whole turns from what is left.
    both = fit_prompt(messages, words, budget=140, history_turns=3)
    assert both.messages[1]["content"].startswith("question 5 ") and both.dropped_messages == 10


def test_a_tool_exchange_is_kept_or_left_out_whole():
    items = normalize_input(
        [
            {"role": "user", "content": "What is the weather in Porto?"},
            {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city": "Porto"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 24 C"},
            {"role": "assistant", "content": "It is sunny and 24 C in Porto."},
            {"role": "user", "content": "And tomorrow?"},
            {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": '{"day": "tomorrow"}'},
            {"type": "function_call_output", "call_id": "call_2", "output": "rain, 17 C"},
        ]
    )
    messages = chat_messages(None, items, SYSTEM)
    for history_turns in (0, 1):
        fitted = fit_prompt(messages, words, budget=10_000, history_turns=history_turns)
        kept = "\n".join(message["content"] for message in fitted.messages)
        # The latest exchange: its call and its output, always together.
        assert 'weather({"day": "tomorrow"})' in kept and "rain, 17 C" in kept
        # The earlier one: all of it or none of it.
        earlier = [
            "What is the weather in Porto?",
            'weather({"city": "Porto"})',
            "sunny, 24 C",
            "It is sunny and 24 C in Porto.",
        ]
        assert [part in kept for part in earlier] == [bool(history_turns)] * len(earlier)
        assert fitted.messages[1]["role"] == "user"  # a cut never leaves an answer without its question


def test_turns_begin_at_a_user_message_after_anything_else():
    roles = ["user", "assistant", "user", "user", "assistant", "system", "user"]
    assert turn_starts([{"role": role, "content": ""} for role in roles]) == [0, 2, 6]
    assert turn_starts([{"role": "assistant", "content": ""}, {"role": "user", "content": ""}]) == [0, 1]
    assert turn_starts([]) == [0]
