"""Real objects on the fuzzed server, made on demand, so generated requests can name things that exist.

A request generated from the spec names a random `resp_…` or `vs_…`, and the server answers 404 before it reads
anything else; pointing the path at a real object lets the fuzzed query and body reach the handler's real work.
"""

from __future__ import annotations

from functools import cached_property

from openai import OpenAI

SERVED_MODEL = "gpt-4.1-mini"  # one the reference engine answers as


class LiveObjects:
    """One of each kind of object, created the first time a request needs it (over the real SDK)."""

    def __init__(self, client: OpenAI) -> None:
        self.client = client

    @cached_property
    def response_id(self) -> str:
        # In the background, so that `cancel` reaches its real work instead of "not a background response".
        return self.client.responses.create(model=SERVED_MODEL, input="hello", background=True).id

    @cached_property
    def conversation_id(self) -> str:
        items = [{"type": "message", "role": "user", "content": "hello"}]
        return self.client.conversations.create(items=items).id

    @cached_property
    def item_id(self) -> str:
        return self.client.conversations.items.list(self.conversation_id).data[0].id

    @cached_property
    def file_id(self) -> str:
        return self._upload("notes.txt", b"The fuzzers read this file. It mentions marmalade.")

    @cached_property
    def vector_store_id(self) -> str:
        return self.client.vector_stores.create(name="fuzz", file_ids=[self.file_id]).id

    @cached_property
    def batch_id(self) -> str:
        batch_file = self._upload("batch.txt", b"A second file, added to the store in a batch.")
        return self.client.vector_stores.file_batches.create(self.vector_store_id, file_ids=[batch_file]).id

    @cached_property
    def container_id(self) -> str:
        return self.client.containers.create(name="fuzz").id

    @cached_property
    def container_file_id(self) -> str:
        return self.client.containers.files.create(self.container_id, file=("data.csv", b"a,b\n1,2\n")).id

    def path_parameter(self, path: str, name: str) -> str | None:
        """A real value for path parameter `name` of the spec path `path`; None for a parameter we do not know."""
        if name == "model":
            return SERVED_MODEL
        if name == "file_id" and path.startswith("/containers/"):
            return self.container_file_id
        if name in (
            "response_id",
            "conversation_id",
            "item_id",
            "file_id",
            "vector_store_id",
            "batch_id",
            "container_id",
        ):
            return getattr(self, name)
        return None

    def _upload(self, name: str, data: bytes) -> str:
        return self.client.files.create(file=(name, data), purpose="assistants").id
