"""The llama engine (SmolLM2-135M-Instruct through llama.cpp) behind the real server, driven by the real openai SDK
with strict validation. Real decoding: a crash at the first token fails these tests.

CI installs llama-cpp-python and the weights (scripts/setup.sh), so there a missing install is a
failure, never a skip.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from openai import OpenAI

from assistant.server import LocalServer
from assistant.server.engines.smollm2 import SMOLLM2_MODEL, smollm2_weights

from .conftest import make_client, require_llama


@pytest.fixture
def client(llama_client: OpenAI) -> OpenAI:
    """In this module the SDK client is the llama engine's."""
    return llama_client


def template_token_count(messages: list[dict[str, str]]) -> int:
    """What the model's own chat template (read from the GGUF) makes of `messages`, in the model's tokens:
    computed here with jinja2 and a vocabulary-only load, independently of the engine."""
    import jinja2
    import llama_cpp

    vocab = llama_cpp.Llama(str(smollm2_weights()), vocab_only=True, verbose=False)
    template = jinja2.Environment().from_string(vocab.metadata["tokenizer.chat_template"])
    text = template.render(messages=messages, add_generation_prompt=True)
    return len(vocab.tokenize(text.encode(), add_bos=False, special=True))


def test_a_streamed_answer_counts_the_templates_real_tokens(client: OpenAI):
    from assistant.server.engines.llama import DEFAULT_SYSTEM

    events = list(
        client.responses.create(
            model=SMOLLM2_MODEL, input="What is the capital of France?", max_output_tokens=40, stream=True
        )
    )
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert events[-1].type in ("response.completed", "response.incomplete")
    final = events[-1].response
    assert len(deltas) > 1 and "".join(deltas).strip()
    assert final.output_text == "".join(deltas)
    expected = template_token_count(
        [{"role": "system", "content": DEFAULT_SYSTEM}, {"role": "user", "content": "What is the capital of France?"}]
    )
    assert final.usage.input_tokens == expected
    assert 1 <= final.usage.output_tokens <= 40


def test_the_second_turn_of_a_conversation_reuses_the_prefix_cache(client: OpenAI):
    conversation = client.conversations.create()
    first = client.responses.create(
        model="gpt-4.1-mini", conversation=conversation.id, input="Name a color.", temperature=0, max_output_tokens=24
    )
    second = client.responses.create(
        model="gpt-4.1-mini", conversation=conversation.id, input="Name another one.", max_output_tokens=24
    )
    cached = second.usage.input_tokens_details.cached_tokens
    # The second prompt starts with the whole first prompt, which llama.cpp still holds: it is not evaluated again.
    assert first.usage.input_tokens <= cached < second.usage.input_tokens
    assert first.output_text.strip() and second.output_text.strip()


def test_max_output_tokens_ends_incomplete(client: OpenAI):
    response = client.responses.create(
        model=SMOLLM2_MODEL,
        input="Write a long story about a dragon and a knight.",
        temperature=0,
        max_output_tokens=16,
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 16
    assert response.output_text


def test_two_clients_at_once_are_queued_and_both_answered(llama_server: LocalServer):
    answers: dict[int, str] = {}
    failures: list[BaseException] = []

    def ask(number: int) -> None:
        try:
            with make_client(llama_server, timeout=120) as sdk:
                answers[number] = sdk.responses.create(
                    model=SMOLLM2_MODEL, input=f"Say a word about the number {number}.", max_output_tokens=24
                ).output_text
        except BaseException as error:  # reported below, with the thread's error
            failures.append(error)

    threads = [threading.Thread(target=ask, args=(number,)) for number in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not failures, failures
    assert set(answers) == {1, 2} and all(text.strip() for text in answers.values())


def test_a_code_question_is_routed_to_the_interpreter_and_answered_from_its_output(client: OpenAI):
    response = client.responses.create(
        model=SMOLLM2_MODEL,
        input="Run `print(17*23)` please.",
        max_output_tokens=120,
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
    )
    assert response.status == "completed"
    assert [item.type for item in response.output] == ["code_interpreter_call", "message"]
    assert response.output[0].code == "print(17*23)"
    assert "391" in response.output_text


def test_file_search_answers_cite_the_file(client: OpenAI, tmp_path: Path):
    notes = tmp_path / "notes.txt"
    notes.write_text("The project codename is Bluebird. It ships in May.\n")
    uploaded = client.files.create(file=notes.open("rb"), purpose="assistants")
    store = client.vector_stores.create(name="notes", file_ids=[uploaded.id])
    client.vector_stores.files.poll(uploaded.id, vector_store_id=store.id, poll_interval_ms=25)
    response = client.responses.create(
        model=SMOLLM2_MODEL,
        input="What is the project codename?",
        max_output_tokens=120,
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
    )
    message = response.output[-1]
    [part] = message.content
    [citation] = part.annotations
    assert citation.type == "file_citation" and citation.file_id == uploaded.id
    # The citation sits right after the quote from the file, inside the answer's text.
    assert part.text[: citation.index].endswith('"The project codename is Bluebird."')


def test_chat_completions_run_on_the_same_engine(client: OpenAI):
    from assistant.server.engines.llama import DEFAULT_SYSTEM

    chunks = list(
        client.chat.completions.create(
            model=SMOLLM2_MODEL,
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=24,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.strip()
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == template_token_count(
        [{"role": "system", "content": DEFAULT_SYSTEM}, {"role": "user", "content": "Say hello."}]
    )
    assert 1 <= usage.completion_tokens <= 24


def test_the_reference_engine_stays_reachable_by_its_id(client: OpenAI):
    response = client.responses.create(model="reference", input="hello")
    assert response.output_text == "Reference reply to: hello"


def test_a_conversation_longer_than_the_prompt_budget_is_answered_without_its_oldest_messages(tmp_path: Path):
    require_llama()
    from assistant.server.engines import EngineRegistry
    from assistant.server.engines.llama import LlamaEngine

    registry = EngineRegistry()
    engine = LlamaEngine(prompt_budget=300)
    registry.register(engine, [SMOLLM2_MODEL])
    history = []
    for number in range(12):
        history.append({"role": "user", "content": f"Message {number}: " + "tell me about the sea " * 8})
        history.append({"role": "assistant", "content": f"Answer {number}: " + "the sea is large " * 8})
    history.append({"role": "user", "content": "Thanks. What is 2 plus 2?"})
    with LocalServer(db_path=tmp_path / "server.db", engines=registry) as server, make_client(server) as sdk:
        response = sdk.responses.create(model=SMOLLM2_MODEL, input=history, max_output_tokens=16)
    assert response.status in ("completed", "incomplete") and response.output_text
    assert response.usage.input_tokens <= 300
    fitted = engine.prompt(_request(history), budget=300)
    assert fitted.dropped_messages % 4 == 0 and fitted.dropped_messages > 0
    assert "oldest messages of this conversation were left out" in fitted.messages[0]["content"]
    assert fitted.messages[-1]["content"] == "Thanks. What is 2 plus 2?"


def _request(history: list[dict[str, str]]):
    from assistant.server.engines import GenerationRequest
    from assistant.server.items import normalize_input

    return GenerationRequest(model=SMOLLM2_MODEL, instructions=None, input_items=normalize_input(history))
