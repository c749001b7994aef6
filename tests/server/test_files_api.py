"""/v1/files, /v1/vector_stores and /v1/containers through the real SDK (strict) and against the spec's schemas."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai import OpenAI

from assistant.server import LocalServer

from .conftest import API_KEY, Spec
from .tools_server import DOCUMENTS, MAX_UPLOAD, upload, vector_store_with


@pytest.fixture
def raw(tool_server: LocalServer) -> httpx2.Client:
    with httpx2.Client(base_url=tool_server.base_url, headers={"authorization": f"Bearer {API_KEY}"}) as client:
        yield client


def test_files_upload_list_retrieve_content_delete(tools_client: OpenAI, raw: httpx2.Client, spec: Spec) -> None:
    created = tools_client.files.create(file=("notes.txt", b"hello notes"), purpose="assistants")
    assert created.id.startswith("file-") and created.bytes == 11 and created.status == "processed"
    assert created.filename == "notes.txt" and created.purpose == "assistants"
    spec.validate("OpenAIFile", raw.get(f"/files/{created.id}").json())
    assert tools_client.files.retrieve(created.id) == created
    assert tools_client.files.content(created.id).read() == b"hello notes"
    listed = [f.id for f in tools_client.files.list(purpose="assistants")]
    assert created.id in listed
    spec.validate("ListFilesResponse", raw.get("/files").json())
    deleted = tools_client.files.delete(created.id)
    assert deleted.deleted and deleted.id == created.id
    spec.validate("DeleteFileResponse", raw.delete(f"/files/{upload(tools_client, 'x.txt', b'x')}").json())
    with pytest.raises(openai.NotFoundError):
        tools_client.files.retrieve(created.id)


def test_file_pagination(tools_client: OpenAI) -> None:
    ids = [upload(tools_client, f"page{i}.txt", b"x") for i in range(3)]
    pages = tools_client.files.list(limit=2, order="asc", purpose="assistants")
    seen = [f.id for f in pages]  # iterating a page fetches the next ones
    assert [i for i in seen if i in ids] == ids


def test_bad_uploads_get_clear_errors(tools_client: OpenAI, raw: httpx2.Client, spec: Spec) -> None:
    with pytest.raises(openai.BadRequestError, match="is empty"):
        tools_client.files.create(file=("empty.txt", b""), purpose="assistants")
    with pytest.raises(openai.BadRequestError, match="larger than"):
        tools_client.files.create(file=("big.txt", b"x" * (MAX_UPLOAD + 1)), purpose="assistants")
    with pytest.raises(openai.BadRequestError, match="nonsense"):
        tools_client.files.create(file=("a.txt", b"a"), purpose="nonsense")  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        tools_client.files.content("file-missing")
    sneaky = tools_client.files.create(file=("../../etc/passwd", b"data"), purpose="assistants")
    assert sneaky.filename == "passwd"
    for failure in (
        raw.post("/files", files={"file": ("e.txt", b"")}, data={"purpose": "assistants"}),
        raw.get("/files/file-missing"),
        raw.get("/vector_stores/vs_missing"),
        raw.get("/containers/cntr_missing"),
    ):
        assert failure.status_code >= 400
        spec.validate("ErrorResponse", failure.json())


def test_vector_store_lifecycle(tools_client: OpenAI, raw: httpx2.Client, spec: Spec) -> None:
    store_id, ids = vector_store_with(tools_client, DOCUMENTS)
    store = tools_client.vector_stores.retrieve(store_id)
    assert store.status == "completed" and store.file_counts.completed == 2 and store.usage_bytes > 0
    spec.validate("VectorStoreObject", raw.get(f"/vector_stores/{store_id}").json())
    spec.validate("ListVectorStoresResponse", raw.get("/vector_stores").json())
    store_file = tools_client.vector_stores.files.retrieve(ids["paris.txt"], vector_store_id=store_id)
    assert store_file.status == "completed" and store_file.last_error is None
    assert store_file.chunking_strategy.type == "static"  # auto is reported as the sizes it used (recorded)
    spec.validate("VectorStoreFileObject", raw.get(f"/vector_stores/{store_id}/files/{ids['paris.txt']}").json())
    spec.validate("ListVectorStoreFilesResponse", raw.get(f"/vector_stores/{store_id}/files").json())
    assert len(tools_client.vector_stores.files.list(vector_store_id=store_id, filter="completed").data) == 2
    content = tools_client.vector_stores.files.content(ids["berlin.md"], vector_store_id=store_id)
    assert "Brandenburg" in "".join(part.text for part in content)
    spec.validate(
        "VectorStoreFileContentResponse", raw.get(f"/vector_stores/{store_id}/files/{ids['berlin.md']}/content").json()
    )
    renamed = tools_client.vector_stores.update(store_id, name="renamed", metadata={"k": "v"})
    assert renamed.name == "renamed" and renamed.metadata == {"k": "v"}
    tools_client.vector_stores.files.delete(ids["paris.txt"], vector_store_id=store_id)
    assert tools_client.vector_stores.retrieve(store_id).file_counts.total == 1
    assert tools_client.vector_stores.delete(store_id).deleted
    with pytest.raises(openai.NotFoundError):
        tools_client.vector_stores.retrieve(store_id)


def test_vector_store_search(tools_client: OpenAI, raw: httpx2.Client, spec: Spec) -> None:
    store_id, ids = vector_store_with(tools_client, DOCUMENTS)
    page = tools_client.vector_stores.search(store_id, query="capital of Germany", max_num_results=5)
    assert page.data[0].file_id == ids["berlin.md"]
    assert all(0 < hit.score < 1 for hit in page.data)
    body = raw.post(f"/vector_stores/{store_id}/search", json={"query": "Eiffel Tower"}).json()
    spec.validate("VectorStoreSearchResultsPage", body)
    assert body["object"] == "vector_store.search_results.page" and body["search_query"] == ["Eiffel Tower"]
    assert body["data"][0]["filename"] == "paris.txt" and body["data"][0]["content"][0]["type"] == "text"


def test_attributes_filter_search(tools_client: OpenAI) -> None:
    store = tools_client.vector_stores.create(name="filtered")
    for name, lang in (("en.txt", "en"), ("de.txt", "de")):
        file_id = upload(tools_client, name, f"The report covers sales ({lang}).".encode())
        tools_client.vector_stores.files.create_and_poll(
            file_id, vector_store_id=store.id, attributes={"lang": lang}, poll_interval_ms=10
        )
    hits = tools_client.vector_stores.search(
        store.id, query="report sales", filters={"type": "eq", "key": "lang", "value": "de"}
    ).data
    assert [hit.filename for hit in hits] == ["de.txt"]


def test_binary_file_fails_processing_with_last_error(tools_client: OpenAI) -> None:
    store = tools_client.vector_stores.create(name="binary")
    file_id = upload(tools_client, "photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    processed = tools_client.vector_stores.files.create_and_poll(file_id, vector_store_id=store.id, poll_interval_ms=10)
    assert processed.status == "failed"
    assert processed.last_error is not None and processed.last_error.code == "unsupported_file"
    assert "not supported" in processed.last_error.message
    counts = tools_client.vector_stores.retrieve(store.id).file_counts
    assert (counts.failed, counts.completed, counts.in_progress) == (1, 0, 0)


def test_file_batches(tools_client: OpenAI, raw: httpx2.Client, spec: Spec) -> None:
    store = tools_client.vector_stores.create(name="batch")
    ids = [upload(tools_client, name, data) for name, data in DOCUMENTS.items()]
    batch = tools_client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=ids, poll_interval_ms=10
    )
    assert batch.status == "completed" and batch.file_counts.completed == 2
    wire = raw.get(f"/vector_stores/{store.id}/file_batches/{batch.id}").json()
    assert wire["object"] == "vector_store.file_batch"  # the real API's name; the SDK special-cases it
    spec.validate("VectorStoreFileBatchObject", {**wire, "object": "vector_store.files_batch"})
    files = tools_client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert sorted(f.id for f in files) == sorted(ids)
    cancelled = tools_client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled"


def test_vector_store_errors(tools_client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="file-nope"):
        tools_client.vector_stores.create(name="x", file_ids=["file-nope"])
    with pytest.raises(openai.BadRequestError, match="chunking_strategy"):
        tools_client.vector_stores.create(
            name="x",
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 10, "chunk_overlap_tokens": 0}},
        )


def test_containers_and_their_files(tools_client: OpenAI, raw: httpx2.Client, spec: Spec) -> None:
    container = tools_client.containers.create(name="work")
    assert container.status == "active" and container.id.startswith("cntr_")
    assert container.expires_after is not None and container.expires_after.minutes == 20
    spec.validate("ContainerResource", raw.get(f"/containers/{container.id}").json())
    spec.validate("ContainerListResource", raw.get("/containers").json())
    uploaded = tools_client.containers.files.create(container.id, file=("data.csv", b"a,b\n1,2\n"))
    assert uploaded.path == "/mnt/data/data.csv" and uploaded.source == "user" and uploaded.bytes == 8
    from_file = tools_client.containers.files.create(container.id, file_id=upload(tools_client, "n.txt", b"note"))
    assert from_file.path == "/mnt/data/n.txt"
    spec.validate("ContainerFileResource", raw.get(f"/containers/{container.id}/files/{uploaded.id}").json())
    spec.validate("ContainerFileListResource", raw.get(f"/containers/{container.id}/files").json())
    assert {f.id for f in tools_client.containers.files.list(container.id)} == {uploaded.id, from_file.id}
    content = tools_client.containers.files.content.retrieve(uploaded.id, container_id=container.id)
    assert content.read() == b"a,b\n1,2\n"
    assert tools_client.containers.files.delete(uploaded.id, container_id=container.id) is None
    with pytest.raises(openai.NotFoundError):
        tools_client.containers.files.retrieve(uploaded.id, container_id=container.id)
    assert tools_client.containers.delete(container.id) is None
    with pytest.raises(openai.NotFoundError):
        tools_client.containers.retrieve(container.id)


def test_container_paths_cannot_escape(tools_client: OpenAI, tool_server: LocalServer) -> None:
    container = tools_client.containers.create(name="escape")
    sneaky = tools_client.containers.files.create(container.id, file=("../../../tmp/escape.txt", b"x"))
    assert sneaky.path == "/mnt/data/escape.txt"
    assert tool_server.hosted_tools is not None
    folder = tool_server.hosted_tools.store.container_folder(container.id)
    assert (folder / "escape.txt").read_bytes() == b"x"
    # A symlink in the folder (as sandboxed code could plant) is never served.
    (folder / "escape.txt").unlink()
    (folder / "escape.txt").symlink_to("/etc/passwd")
    with pytest.raises(openai.NotFoundError):
        tools_client.containers.files.content.retrieve(sneaky.id, container_id=container.id)


def test_state_survives_a_restart(tmp_path) -> None:
    from .conftest import make_client

    with LocalServer(db_path=tmp_path / "server.db") as first, make_client(first) as client:
        store_id, ids = vector_store_with(client, DOCUMENTS)
        container = client.containers.create(name="kept")
        kept = client.containers.files.create(container.id, file=("k.txt", b"kept"))
    with LocalServer(db_path=tmp_path / "server.db") as second, make_client(second) as client:
        assert client.files.content(ids["paris.txt"]).read() == DOCUMENTS["paris.txt"]
        assert client.vector_stores.retrieve(store_id).file_counts.completed == 2
        assert client.vector_stores.search(store_id, query="Eiffel").data[0].file_id == ids["paris.txt"]
        assert client.containers.files.content.retrieve(kept.id, container_id=container.id).read() == b"kept"
    assert (tmp_path / "server.files" / "uploads").is_dir()
