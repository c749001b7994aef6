"""Grounded tool answers: the rules that keep a small model's prose true to what a tool returned (units), and the
llama engine applying them behind the real server (real decoding, temperature 0).

The llama tests fail, never skip, under CI=true when llama is missing (see tests/server/conftest.require_llama)."""

from __future__ import annotations

import re

import pytest
from openai import OpenAI

from assistant.server.engines.chat_prompt import chat_messages
from assistant.server.engines.function_rules import answer_from_functions
from assistant.server.engines.grounding import (
    QUOTE_OPENERS,
    GroundedProse,
    filter_prose,
    numbers_in,
    supported,
    without_quotes,
)
from assistant.server.engines.tool_rules import answer_from_tools


@pytest.fixture
def client(llama_client: OpenAI) -> OpenAI:
    """In this module the SDK client is the llama engine's."""
    return llama_client


CODE_EVIDENCE = (
    "What is 17*23? Use code.\n\nThe Python code `print(17*23)` ran.\n\nThe code printed:\n391\n\n"
    "Answer briefly from this code interpreter result."
)


def test_a_sentence_with_a_number_the_tool_did_not_return_is_dropped():
    # The answer: a wrong number, then the imitation of a quote line.
    prose = "The Python code print(17*23) printed: 456. The result is 391. That is 17 times 23."
    assert filter_prose(prose, CODE_EVIDENCE) == "The result is 391. That is 17 times 23."
    assert not supported("So the answer is 456.", CODE_EVIDENCE)
    assert supported("So the answer is 391.", CODE_EVIDENCE)
    assert supported("That is the product.", CODE_EVIDENCE)  # no number, no quote: nothing to contradict


def test_numbers_are_compared_as_written_and_list_markers_are_not_claims():
    evidence = "The launch is on 14 March 2026 and costs 1,250 dollars."
    assert supported("It costs 1250 dollars.", evidence) and supported("It costs 1,250 dollars.", evidence)
    assert not supported("It launches on 14/3/2026.", evidence)  # a date the file does not state
    assert supported("1. It launches in 2026.", evidence)
    assert not supported("It costs 1,250.50 dollars.", evidence)


def test_quotes_must_be_in_the_tool_output():
    evidence = 'From the attached files:\n- "The project codename is Bluebird." (notes.txt)'
    assert supported('The file says "the project codename is Bluebird".', evidence)
    assert not supported('The file says "the codename is Falcon".', evidence)
    assert not supported("The codename is `Falcon-7`.", evidence)


def test_imitations_of_the_engines_quote_lines_are_dropped():
    # Seen on a file-search turn: no code ran, yet the model wrote a code quote it had seen in its history.
    evidence = 'From the attached files:\n- "Falcon launches in spring." (plan.md)'
    assert (
        filter_prose("Falcon launches in spring. The code printed: Falcon-LaunchDate", evidence)
        == "Falcon launches in spring."
    )
    assert not supported("From the attached files: nothing.", evidence)


def test_code_the_model_made_up_is_dropped():
    prose = "Here is the code:\n```python\ndef main():\n    print(17*23)\n```\nThe result is 391."
    assert filter_prose(prose, CODE_EVIDENCE) == "Here is the code:\nThe result is 391."


def test_a_later_turn_may_not_contradict_an_earlier_tool_result():
    # Seen after a code turn that printed 391: "Thanks!" got a new, wrong result.
    conversation = CODE_EVIDENCE + "\n\nThanks!"
    later = GroundedProse(conversation, about_tools_only=True)
    shown = later.feed("You're welcome! The Python code `print(17*23)` will print 480. There are 7 days in a week.")
    assert shown + later.finish() == "You're welcome! There are 7 days in a week."
    assert later.dropped == ["The Python code `print(17*23)` will print 480."]
    code = GroundedProse(conversation, about_tools_only=True)
    assert code.feed("Sure:\n```python\nprint(2)\n```\n") == "Sure:\n```python\nprint(2)\n```"


def test_prose_streams_a_whole_sentence_at_a_time():
    grounded = GroundedProse(CODE_EVIDENCE)
    shown = [grounded.feed(piece) for piece in ["The ", "answer", " is 456", ". The answer ", "is 391", ". Done"]]
    assert shown == ["", "", "", "", "", "The answer is 391."]
    assert grounded.finish() == " Done"
    assert grounded.dropped == ["The answer is 456."]


def test_every_quote_the_engine_writes_starts_with_a_known_opener():
    code = {"type": "code_interpreter_call", "code": "print(1)", "outputs": [{"type": "logs", "logs": "1"}]}
    silent = {"type": "code_interpreter_call", "code": "x = 1", "outputs": []}
    failed = {"type": "code_interpreter_call", "code": "1/0", "outputs": [], "error": "ZeroDivisionError"}
    files = {"type": "file_search_call", "results": [{"file_id": "f", "filename": "a.txt", "text": "A b."}]}
    no_files = {"type": "file_search_call", "results": []}
    web = {"type": "web_search_call", "action": {"query": "q"}, "results": [{"url": "https://a.example"}]}
    no_web = {"type": "web_search_call", "action": {"query": "q"}, "results": []}
    failed_web = {"type": "web_search_call", "status": "failed", "error": "offline"}
    question = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q?"}]}
    for result in (code, silent, failed, files, no_files, web, no_web, failed_web):
        quote = "".join(segment.text for segment in answer_from_tools([question, result]))
        assert quote.startswith(QUOTE_OPENERS), quote
        assert without_quotes(f"My answer.\n\n{quote}") == "My answer."
    functions = [
        question,
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "42"},
    ]
    assert (answer_from_functions(functions) or "").startswith(QUOTE_OPENERS)


def test_a_file_search_quote_is_the_sentence_that_answers_not_the_title():
    from assistant.server.engines.tool_rules import quote_tool_result

    plan = (
        "# Falcon project plan\n\nThe Falcon project launches on 14 March 2026.\nThe project lead is Mira Okafor."
        "\nThe budget is 2.4 million euros.\nFalcon runs on 12 servers in Lisbon.\n"
    )
    result = {"type": "file_search_call", "results": [{"file_id": "f", "filename": "plan.md", "text": plan}]}
    for question, sentence in [
        ("What is the budget of the Falcon project?", "The budget is 2.4 million euros."),
        ("Who is the project lead of Falcon?", "The project lead is Mira Okafor."),
        ("When does the Falcon project launch?", "The Falcon project launches on 14 March 2026."),
    ]:
        assert f'"{sentence}"' in "".join(segment.text for segment in quote_tool_result(result, question))


def test_the_engines_quotes_are_not_fed_back_as_the_models_words():
    def message(role: str, text: str) -> dict:
        kind = "input_text" if role == "user" else "output_text"
        return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}

    items = [
        message("user", "What is 17*23? Use code."),
        {"type": "code_interpreter_call", "code": "print(17*23)", "outputs": [{"type": "logs", "logs": "391"}]},
        message("assistant", "The answer is 391.\n\nThe code printed:\n391"),
        message("user", "What is in the launch plan?"),
    ]
    messages = chat_messages(None, items, "You are a helpful assistant.")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "The answer is 391."
    assert "The code printed:\n391" in messages[1]["content"]  # the result stays in the turn, as the tool's


# -- the llama engine ---------------------------------------------------------------------------------------------

CODE_TOOL = [{"type": "code_interpreter", "container": {"type": "auto"}}]


@pytest.mark.parametrize(
    "question", ["What is 17*23? Use code.", "Compute 123*45 with code.", "What is 2**10? Use code."]
)
def test_llama_answers_state_the_code_result_and_never_another_number(client: OpenAI, question: str):
    response = client.responses.create(
        model="gpt-4.1-mini",
        input=question,
        tools=CODE_TOOL,
        temperature=0,
        max_output_tokens=200,
        include=["code_interpreter_call.outputs"],
    )
    assert response.model == "smollm2-135m-instruct"
    [call, message] = response.output
    assert call.type == "code_interpreter_call" and message.type == "message"
    printed = call.outputs[0].logs.strip()
    text = response.output_text
    assert printed in text
    prose = without_quotes(text)
    assert numbers_in(prose) <= numbers_in(question) | {printed}, prose
    assert "printed:" not in prose


@pytest.mark.parametrize("follow_up", ["Thanks!", "Thanks! What is the capital of France?"])
def test_llama_follow_up_after_a_tool_turn_neither_imitates_nor_contradicts_it(
    client: OpenAI,
    follow_up: str,
):
    conversation = client.conversations.create()
    client.responses.create(
        model="gpt-4.1-mini",
        conversation=conversation.id,
        input="What is 17*23? Use code.",
        tools=CODE_TOOL,
        temperature=0,
        max_output_tokens=200,
    )
    answer = client.responses.create(
        model="gpt-4.1-mini", conversation=conversation.id, input=follow_up, temperature=0, max_output_tokens=80
    ).output_text
    assert "The code printed" not in answer
    # Seen before the fix: "The Python code `print(17*23)` will print 480."
    about_the_code = [
        line
        for line in answer.replace(". ", ".\n").splitlines()
        if re.search(r"\b(code|print|printed|output|result)\b", line, re.IGNORECASE)
    ]
    assert all(numbers_in(line) <= {"17", "23", "391"} for line in about_the_code), answer


# -- no verbatim repeat of an earlier answer -----------------------------------------------------------------------


def test_a_token_that_would_repeat_a_run_of_an_earlier_answer_is_never_sampled():
    import numpy as np

    from assistant.server.engines.repeats import NoVerbatimRepeat

    earlier = [[10, 11, 12, 13, 14]]
    processor = NoVerbatimRepeat(earlier, prompt_length=3, run=4)
    prompt = [1, 2, 3]

    def next_scores(generated: list[int]) -> np.ndarray:
        return processor(np.array(prompt + generated, dtype=np.intc), np.zeros(20, dtype=np.single))

    assert np.isneginf(next_scores([11, 12, 13])[14]) and np.isfinite(next_scores([11, 12, 13])).sum() == 19
    assert np.isneginf(next_scores([5, 10, 11, 12])[13])
    assert np.isfinite(next_scores([10, 11])).all()  # a shorter shared run stays possible
    assert np.isfinite(next_scores([11, 12, 15])).all()
    assert np.isfinite(processor(np.array([10, 11, 12], dtype=np.intc), np.zeros(20, dtype=np.single))).all()
    assert not NoVerbatimRepeat([[1, 2]], prompt_length=0, run=4)  # nothing long enough to repeat


def test_llama_does_not_repeat_its_earlier_answer_word_for_word(client: OpenAI):
    earlier = "The capital of France is Paris. It is known for the Eiffel Tower and its museums."
    question = {"role": "user", "content": "What is the capital of France?"}
    response = client.responses.create(
        model="gpt-4.1-mini",
        temperature=0,
        max_output_tokens=60,
        input=[question, {"role": "assistant", "content": earlier}, question],
    )  # type: ignore[list-item]
    words, earlier_words = response.output_text.split(), earlier.split()
    runs = {tuple(earlier_words[i : i + 8]) for i in range(len(earlier_words) - 7)}
    assert response.output_text.strip()
    assert not any(tuple(words[i : i + 8]) in runs for i in range(len(words) - 7)), response.output_text
