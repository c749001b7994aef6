"""Every /v1/conversations route through the real SDK with strict validation."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI


def test_create_retrieve_update_delete(client: OpenAI) -> None:
    created = client.conversations.create(metadata={"topic": "demo"}, items=[{"role": "user", "content": "hi"}])
    assert created.id.startswith("conv_") and created.object == "conversation"
    assert client.conversations.retrieve(created.id) == created
    updated = client.conversations.update(created.id, metadata={"topic": "changed"})
    assert updated.metadata == {"topic": "changed"}
    deleted = client.conversations.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError) as missing:
        client.conversations.retrieve(created.id)
    assert missing.value.message.endswith(f"Conversation with id '{created.id}' not found.")


def test_create_without_arguments(client: OpenAI) -> None:
    created = client.conversations.create()
    assert created.metadata == {}
    assert client.conversations.items.list(created.id).data == []


def test_items_create_list_retrieve_delete(client: OpenAI) -> None:
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"role": "user", "content": "first"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "second"}]},
        ],
        include=["message.output_text.logprobs"],
    )
    assert [item.role for item in added.data] == ["user", "assistant"]
    assert added.first_id == added.data[0].id and added.last_id == added.data[1].id
    user_item = added.data[0]
    assert user_item.content[0].type == "input_text" and user_item.status == "completed"

    listed = client.conversations.items.list(conversation.id, include=["message.output_text.logprobs"])
    assert [item.id for item in listed.data] == [added.data[1].id, added.data[0].id]  # default order: desc
    got = client.conversations.items.retrieve(user_item.id, conversation_id=conversation.id)
    assert got.id == user_item.id
    after_delete = client.conversations.items.delete(user_item.id, conversation_id=conversation.id)
    assert after_delete.id == conversation.id and after_delete.object == "conversation"
    with pytest.raises(openai.NotFoundError) as missing:
        client.conversations.items.retrieve(user_item.id, conversation_id=conversation.id)
    assert missing.value.message.endswith(f"Item with id '{user_item.id}' not found.")


def test_items_pagination_auto_iterates_on_last_id(client: OpenAI) -> None:
    conversation = client.conversations.create(items=[{"role": "user", "content": f"m{i}"} for i in range(5)])
    page = client.conversations.items.list(conversation.id, limit=2, order="asc")
    assert len(page.data) == 2 and page.has_more
    texts = [item.content[0].text for item in client.conversations.items.list(conversation.id, limit=2, order="asc")]
    assert texts == [f"m{i}" for i in range(5)]


def test_at_most_20_items_per_call(client: OpenAI) -> None:
    too_many = [{"role": "user", "content": str(i)} for i in range(21)]
    with pytest.raises(openai.BadRequestError) as rejected:
        client.conversations.create(items=too_many)
    assert (rejected.value.param, rejected.value.code) == ("items", "array_above_max_length")
    conversation = client.conversations.create(items=too_many[:20])
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.create(conversation.id, items=too_many)


def test_update_requires_metadata_and_unknown_ids_404(client: OpenAI) -> None:
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as missing:
        client.conversations.update(conversation.id, extra_body={}, metadata=openai.omit)  # type: ignore[arg-type]
    assert missing.value.param == "metadata"
    for call in (
        lambda: client.conversations.update("conv_missing", metadata={}),
        lambda: client.conversations.delete("conv_missing"),
        lambda: client.conversations.items.list("conv_missing"),
        lambda: client.conversations.items.delete("msg_missing", conversation_id=conversation.id),
        lambda: client.responses.create(model="gpt-4o", input="x", conversation="conv_missing"),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
