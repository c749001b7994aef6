"""The local server's front door: a web page cannot drive it (Host and Origin checks, JSON routes that take only
JSON), and no body can blow it up (size and nesting limits), while the real SDK is never refused.

Hostile requests are raw HTTP (http.client sends the Host, Origin and Content-Type a browser would); the SDK is
the client wherever a legitimate request is meant.
"""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
from collections.abc import Iterator

import httpx2
import openai
import pytest

from assistant.server import LocalServer
from assistant.server.front_door import MAX_JSON_BODY_BYTES
from assistant.server.request_parsing import MAX_JSON_DEPTH

from .conftest import make_client

KEY = "sk-" + "frontdoorfrontdoor" + "0123"
TRUSTED = "http://localhost:3000"
RESPONSE = json.dumps({"model": "gpt-4o", "input": "run this for me"}).encode()


def raw(
    server: LocalServer, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (Host included, when given), as a browser could send it."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, f"/v1{path}", body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {name.lower(): value for name, value in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def api_error(body: bytes) -> dict:
    """The error object of a refusal, checked to have the real API's shape."""
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["type"] == "invalid_request_error"
    return error


def stored_responses(server: LocalServer) -> int:
    with sqlite3.connect(server.db_path) as state:
        return state.execute("SELECT count(*) FROM responses").fetchone()[0]


@pytest.fixture(scope="module")
def trusting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A keyed server that lets pages of one origin use it (`assistant serve --allow-origin`)."""
    with LocalServer(
        tmp_path_factory.mktemp("trusting") / "server.db", api_key=KEY, allowed_origins=[TRUSTED + "/"]
    ) as running:
        yield running


# -- a web page driving the server ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, status, code",
    [
        # A page on another site posting a form-like text/plain body (no CORS preflight needed), through DNS rebinding.
        (
            {
                "Host": "attacker.example:{port}",
                "Origin": "http://attacker.example:{port}",
                "Content-Type": "text/plain",
            },
            421,
            "host_not_allowed",
        ),
        # The same page posting straight to 127.0.0.1: the Host is right, the Origin gives it away.
        ({"Origin": "https://attacker.example", "Content-Type": "text/plain"}, 403, "origin_not_allowed"),
        ({"Origin": "null", "Content-Type": "application/json"}, 403, "origin_not_allowed"),  # a sandboxed iframe
        # No browser markers at all, but not JSON: refused before the body is read.
        ({"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ],
)
def test_a_drive_by_post_is_refused_and_runs_nothing(
    server: LocalServer, headers: dict[str, str], status: int, code: str
) -> None:
    before = stored_responses(server)
    headers = {name: value.format(port=server.port) for name, value in headers.items()}
    answered, _, body = raw(server, "POST", "/responses", RESPONSE, headers)
    assert answered == status
    error = api_error(body)
    assert error["code"] == code
    assert stored_responses(server) == before  # no response was created, no code run
    if code == "origin_not_allowed":
        assert f"--allow-origin {headers['Origin']}" in error["message"]  # what to do, if the page is trusted


def test_dns_rebinding_cannot_list_or_read_uploads(server: LocalServer) -> None:
    with make_client(server) as client:
        uploaded = client.files.create(file=("secret.txt", b"private notes"), purpose="assistants")
    for path in ("/files", f"/files/{uploaded.id}/content"):
        status, _, body = raw(server, "GET", path, headers={"Host": f"rebound.attacker.example:{server.port}"})
        assert status == 421 and b"private notes" not in body
        assert "127.0.0.1" in api_error(body)["message"]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "127.0.0.2:{port}", "[::1]:{port}", "localhost.:{port}"],
)
def test_every_loopback_name_is_answered(server: LocalServer, host: str) -> None:
    status, _, body = raw(server, "GET", "/models", headers={"Host": host.format(port=server.port)})
    assert status == 200, body


def test_an_allowed_origin_gets_in_with_cors_and_its_key(trusting_server: LocalServer) -> None:
    # The browser's preflight carries no key; it is answered for the trusted origin only.
    status, headers, _ = raw(
        trusting_server,
        "OPTIONS",
        "/responses",
        headers={
            "Origin": TRUSTED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert status == 200 and headers["access-control-allow-origin"] == TRUSTED
    assert "authorization" in headers["access-control-allow-headers"].lower()
    status, headers, body = raw(
        trusting_server,
        "POST",
        "/responses",
        RESPONSE,
        {"Origin": TRUSTED, "Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    assert status == 200 and json.loads(body)["status"] == "completed"
    assert headers["access-control-allow-origin"] == TRUSTED
    # The key is still required of the trusted page, and other pages are still refused.
    status, _, body = raw(
        trusting_server, "POST", "/responses", RESPONSE, {"Origin": TRUSTED, "Content-Type": "application/json"}
    )
    assert status == 401
    for origin in ("http://localhost:3001", "https://localhost:3000", "http://attacker.example"):
        status, _, body = raw(
            trusting_server,
            "OPTIONS",
            "/responses",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert status == 403 and api_error(body)["code"] == "origin_not_allowed"


def test_an_allowed_origin_must_be_an_origin() -> None:
    for wrong in ("localhost:3000", "http://localhost:3000/app", "*", "null"):
        with pytest.raises(ValueError, match="not a web origin"):
            LocalServer(allowed_origins=[wrong])


# -- content types ---------------------------------------------------------------------------------------------------


def test_the_sdk_is_never_refused(client: openai.OpenAI, server: LocalServer) -> None:
    """What the SDK sends on each kind of route: JSON bodies, bodyless POSTs and DELETEs (with its JSON content
    type), multipart uploads to both upload routes, and a JSON `file_id` to the container files route."""
    uploaded = client.files.create(file=("notes.txt", b"some notes"), purpose="assistants")
    background = client.responses.create(model="gpt-4o", input="hi", background=True)
    client.responses.cancel(background.id)
    conversation = client.conversations.create()
    client.conversations.delete(conversation.id)
    container = client.containers.create(name="front door")
    by_upload = client.containers.files.create(container.id, file=("data.csv", b"a,b\n1,2\n"))
    by_reference = client.containers.files.create(container.id, file_id=uploaded.id)
    assert {by_upload.path, by_reference.path} == {"/mnt/data/data.csv", "/mnt/data/notes.txt"}
    client.containers.delete(container.id)


def test_upload_routes_take_only_multipart(server: LocalServer) -> None:
    for content_type in ("text/plain", "application/json"):
        status, _, body = raw(server, "POST", "/files", b'{"purpose": "assistants"}', {"Content-Type": content_type})
        assert status == 415
        assert "multipart/form-data" in api_error(body)["message"]


def test_a_bodyless_post_needs_no_content_type(server: LocalServer) -> None:
    status, _, body = raw(server, "POST", "/conversations")  # curl -X POST, no body
    assert status == 200 and json.loads(body)["object"] == "conversation"
    status, _, body = raw(server, "POST", "/conversations", b'{"metadata": {}}')  # a body must say it is JSON
    assert status == 415


# -- sizes -----------------------------------------------------------------------------------------------------------


def test_a_100_mb_body_is_refused_before_it_is_read(server: LocalServer) -> None:
    size = 100 << 20
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        # Only the headers are sent: the answer comes without the server waiting for (or holding) any of the body.
        connection.sendall(
            f"POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n".encode()
        )
        answer = connection.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    error = api_error(body)
    assert error["code"] == "request_too_large" and f"{MAX_JSON_BODY_BYTES:,} bytes" in error["message"]


def test_a_100_mb_chunked_body_is_cut_off_at_the_limit(server: LocalServer) -> None:
    """A chunked body says nothing of its size up front: it is counted as it is read."""
    sent = 0

    def hundred_megabytes() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"model": "gpt-4o", "input": "'
        block = b"x" * (1 << 20)
        for _ in range(100):
            sent += len(block)
            yield block
        yield b'"}'

    before = stored_responses(server)
    with httpx2.Client(timeout=60) as http:
        answer = http.post(
            f"{server.base_url}/responses", content=hundred_megabytes(), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 413 and api_error(answer.content)["code"] == "request_too_large"
    assert stored_responses(server) == before


def test_an_oversized_upload_is_refused_with_the_upload_limit(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n" + f"Content-Length: {600 << 20}\r\n\r\n".encode()
        )
        answer = connection.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert "files up to 512 MiB" in api_error(body)["message"]


# -- nesting ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, MAX_JSON_DEPTH + 1])
def test_deeply_nested_json_is_a_400_not_a_500(http: httpx2.Client, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    answer = http.post(
        "/responses",
        content=f'{{"model": "gpt-4o", "input": "hi", "metadata": {nested}}}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert f"more than {MAX_JSON_DEPTH} levels" in api_error(answer.content)["message"]


def test_a_deep_but_real_schema_is_accepted(client: openai.OpenAI) -> None:
    """Structured outputs allow 10 levels of nested objects; written out as JSON that is about 30 levels."""
    schema: dict = {"type": "string"}
    for level in range(10):
        schema = {
            "type": "object",
            "properties": {f"level{level}": schema},
            "required": [f"level{level}"],
            "additionalProperties": False,
        }
    tool = {"type": "function", "name": "deep", "parameters": schema, "strict": True}
    assert client.responses.create(model="gpt-4o", input="hi", tools=[tool]).status == "completed"


def test_the_container_files_route_parses_its_json_body_within_the_limits(
    client: openai.OpenAI, server: LocalServer
) -> None:
    container = client.containers.create(name="deep")
    nested = "[" * 100_000 + "]" * 100_000
    status, _, body = raw(
        server,
        "POST",
        f"/containers/{container.id}/files",
        f'{{"file_id": {nested}}}'.encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 400 and "levels" in api_error(body)["message"]
