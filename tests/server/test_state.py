"""Server state semantics, proven through what the reference engine was given."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from openai import OpenAI

from assistant.server import LocalServer

from .conftest import make_client


def test_conversation_is_prepended_and_grows_after_each_turn(client: OpenAI) -> None:
    conversation = client.conversations.create()
    first = client.responses.create(model="gpt-4.1-mini", input="hello there", conversation=conversation.id)
    second = client.responses.create(model="gpt-4.1-mini", input="and more", conversation={"id": conversation.id})
    third = client.responses.create(model="gpt-4.1-mini", input="What did I say first?!", conversation=conversation.id)
    assert third.output_text == 'You first said: "hello there"'
    assert third.conversation is not None and third.conversation.id == conversation.id
    count = client.responses.create(model="reference", input="how many messages?", conversation=conversation.id)
    assert count.output_text == "You have sent me 7 messages."

    items = list(client.conversations.items.list(conversation.id, order="asc", limit=100))
    texts = [item.content[0].text for item in items]
    assert texts == [
        "hello there",
        first.output_text,
        "and more",
        second.output_text,
        "What did I say first?!",
        third.output_text,
        "how many messages?",
        count.output_text,
    ]
    assert [item.role for item in items] == ["user", "assistant"] * 4
    assert items[1].id == first.output[0].id  # output items keep their ids in the conversation


def test_previous_response_id_chains_the_whole_history(client: OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input="hello there")
    second = client.responses.create(model="gpt-4o", input="something else", previous_response_id=first.id)
    third = client.responses.create(model="gpt-4o", input="how many messages", previous_response_id=second.id)
    assert third.output_text == "You have sent me 5 messages."
    fourth = client.responses.create(model="gpt-4o", input="what did i say first", previous_response_id=third.id)
    assert fourth.output_text == 'You first said: "hello there"'
    assert fourth.previous_response_id == third.id
    # input_items lists this request's own input only
    assert [i.content[0].text for i in client.responses.input_items.list(fourth.id)] == ["what did i say first"]


def test_previous_response_id_with_conversation_is_rejected(client: OpenAI) -> None:
    conversation = client.conversations.create()
    first = client.responses.create(model="gpt-4o", input="x")
    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(model="gpt-4o", input="y", conversation=conversation.id, previous_response_id=first.id)
    assert rejected.value.code == "mutually_exclusive_parameters"


def test_instructions_are_never_carried_over(client: OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input="what are your instructions?", instructions="Be brief.")
    assert first.output_text == 'My instructions are: "Be brief."'
    assert first.instructions == "Be brief."
    chained = client.responses.create(
        model="gpt-4o", input="what are your instructions?", previous_response_id=first.id
    )
    assert chained.output_text == "I have no instructions."
    assert chained.instructions is None

    conversation = client.conversations.create()
    client.responses.create(model="gpt-4o", input="hi", instructions="Speak French.", conversation=conversation.id)
    later = client.responses.create(model="gpt-4o", input="What are your instructions", conversation=conversation.id)
    assert later.output_text == "I have no instructions."


def test_store_false_is_neither_retrievable_nor_chainable(client: OpenAI) -> None:
    unstored = client.responses.create(model="gpt-4o", input="secret", store=False)
    assert unstored.store is False and unstored.status == "completed"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError) as chained:
        client.responses.create(model="gpt-4o", input="more", previous_response_id=unstored.id)
    assert chained.value.code == "previous_response_not_found"
    assert chained.value.param == "previous_response_id"
    assert chained.value.message.endswith(f"Previous response with id '{unstored.id}' not found.")


def test_max_output_tokens_makes_an_incomplete_response(client: OpenAI) -> None:
    conversation = client.conversations.create()
    response = client.responses.create(
        model="gpt-4o", input="repeat 40 words", max_output_tokens=16, conversation=conversation.id
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.usage is not None and response.usage.output_tokens <= 16
    assert response.output_text == " ".join(f"word{i}" for i in range(1, 17)) + " "
    # an incomplete response still lands in the conversation, as the real API does
    assert len(client.conversations.items.list(conversation.id).data) == 2

    events = list(client.responses.create(model="gpt-4o", input="count to 100", max_output_tokens=20, stream=True))
    assert events[-1].type == "response.incomplete"
    done = [e for e in events if e.type == "response.output_item.done"]
    assert done[0].item.status == "incomplete"

    with pytest.raises(openai.BadRequestError) as too_small:
        client.responses.create(model="gpt-4o", input="x", max_output_tokens=15)
    assert (too_small.value.param, too_small.value.code) == ("max_output_tokens", "integer_below_min_value")


def test_cached_tokens_follow_the_prompt_caching_rule(client: OpenAI) -> None:
    long_text = " ".join(f"fact{i}" for i in range(1300))
    first = client.responses.create(model="gpt-4o", input=long_text)
    assert first.usage is not None and first.usage.input_tokens == 1300
    assert first.usage.input_tokens_details.cached_tokens == 0
    second = client.responses.create(model="gpt-4o", input="and?", previous_response_id=first.id)
    assert second.usage is not None
    assert second.usage.input_tokens_details.cached_tokens == 1280  # 1300 rounded down to 128s
    short = client.responses.create(model="gpt-4o", input="short")
    short_again = client.responses.create(model="gpt-4o", input="short")
    assert short.usage and short_again.usage and short_again.usage.input_tokens_details.cached_tokens == 0  # < 1024


def test_unknown_model_and_ids(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(model="this-model-does-not-exist", input="x")
    assert unknown.value.body == {
        "message": "The requested model 'this-model-does-not-exist' does not exist.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    snapshot = client.responses.create(model="gpt-4.1-mini-2025-04-14", input="x")
    assert snapshot.model == "reference"  # accepted as a dated snapshot; answered by the reference engine
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_unknown")
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_unknown")


def test_restart_keeps_conversations_and_responses(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    with LocalServer(db) as server, make_client(server) as client:
        conversation = client.conversations.create(metadata={"k": "v"})
        in_conversation = client.responses.create(model="gpt-4o", input="hello there", conversation=conversation.id)
        chained = client.responses.create(model="gpt-4o", input="count to 3")
    with LocalServer(db) as server, make_client(server) as client:
        assert client.conversations.retrieve(conversation.id).metadata == {"k": "v"}
        assert len(client.conversations.items.list(conversation.id).data) == 2
        assert client.responses.retrieve(in_conversation.id).output_text == in_conversation.output_text
        replay = list(client.responses.retrieve(chained.id, stream=True))
        assert replay[-1].type == "response.completed"
        again = client.responses.create(model="gpt-4o", input="What did I say first?", conversation=conversation.id)
        assert again.output_text == 'You first said: "hello there"'
        follow = client.responses.create(model="gpt-4o", input="what did I say first", previous_response_id=chained.id)
        assert follow.output_text == 'You first said: "count to 3"'
