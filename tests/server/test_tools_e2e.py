"""Hosted tools end to end on the local server, through the real SDK (strict): file search citing the right file,
code that runs (and keeps its variables), a plot that comes back as an image and a downloadable container file,
web search with URL citations, containment of hostile code with the server healthy afterwards, container
expiry, and the routing rules including tool_choice."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from assistant.server import LocalServer
from assistant.tools import isolation_available

from .conftest import make_client
from .tools_server import DOCUMENTS, tool_settings, vector_store_with, write_corpus

MODEL = "gpt-4.1-mini"
CODE = [{"type": "code_interpreter", "container": {"type": "auto"}}]
SANDBOXED = isolation_available("bwrap") or isolation_available("unshare")


def annotations(response):  # the answer message's annotations
    message = next(item for item in response.output if item.type == "message")
    return message.content[0].annotations


def test_file_search_answer_cites_the_right_file(tools_client: OpenAI) -> None:
    store_id, ids = vector_store_with(tools_client, DOCUMENTS)
    tools = [{"type": "file_search", "vector_store_ids": [store_id]}]
    response = tools_client.responses.create(
        model=MODEL, input="Which city has the Brandenburg Gate?", tools=tools, include=["file_search_call.results"]
    )
    call = response.output[0]
    assert call.type == "file_search_call" and call.status == "completed"
    assert call.results and call.results[0].file_id == ids["berlin.md"] and 0 < call.results[0].score < 1
    cited = annotations(response)
    assert cited[0].type == "file_citation" and cited[0].file_id == ids["berlin.md"]
    assert cited[0].filename == "berlin.md"
    assert "Brandenburg Gate" in response.output_text[: cited[0].index]
    other = tools_client.responses.create(model=MODEL, input="What is the Eiffel Tower known for?", tools=tools)
    assert annotations(other)[0].file_id == ids["paris.txt"]
    assert other.output[0].results is None  # not included


def test_code_runs_and_the_answer_says_391(tools_client: OpenAI) -> None:
    response = tools_client.responses.create(
        model=MODEL, input="What is 17*23?", tools=CODE, include=["code_interpreter_call.outputs"]
    )
    call = response.output[0]
    assert call.type == "code_interpreter_call" and call.code == "print(17*23)"
    assert call.container_id.startswith("cntr_")
    assert call.outputs is not None and call.outputs[0].type == "logs" and call.outputs[0].logs == "391\n"
    assert "391" in response.output_text


def test_variables_survive_between_turns(tools_client: OpenAI) -> None:
    first = tools_client.responses.create(model=MODEL, input="```python\nanswer = 6 * 7\n```", tools=CODE)
    second = tools_client.responses.create(
        model=MODEL, input="Run `print(answer)`", tools=CODE, previous_response_id=first.id
    )
    assert second.output[0].container_id == first.output[0].container_id  # the auto container is reused
    assert "42" in second.output_text


def test_a_plot_comes_back_as_image_file_and_citation(tools_client: OpenAI) -> None:
    response = tools_client.responses.create(
        model=MODEL, input="Plot y = x^2 as a PNG chart", tools=CODE, include=["code_interpreter_call.outputs"]
    )
    call = response.output[0]
    assert call.outputs is not None and call.outputs[0].type == "image"
    assert call.outputs[0].url.startswith("data:image/png;base64,")
    citation = annotations(response)[0]
    assert citation.type == "container_file_citation" and citation.filename == "plot.png"
    assert citation.container_id == call.container_id
    assert response.output_text[citation.start_index : citation.end_index] == "[plot.png](sandbox:/mnt/data/plot.png)"
    png = tools_client.containers.files.content.retrieve(citation.file_id, container_id=citation.container_id).read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    listed = tools_client.containers.files.list(call.container_id).data
    assert [(f.path, f.source) for f in listed] == [("/mnt/data/plot.png", "assistant")]


def test_code_reads_files_given_to_its_container(tools_client: OpenAI) -> None:
    container = tools_client.containers.create(name="data")
    tools_client.containers.files.create(container.id, file=("values.csv", b"value\n1\n2\n39\n"))
    code = "```python\nimport csv\nprint(sum(int(r['value']) for r in csv.DictReader(open('values.csv'))))\n```"
    response = tools_client.responses.create(
        model=MODEL, input=code, tools=[{"type": "code_interpreter", "container": container.id}]
    )
    assert response.output[0].container_id == container.id and "42" in response.output_text
    auto_with_file = tools_client.files.create(file=("n.txt", b"seven"), purpose="assistants")
    response = tools_client.responses.create(
        model=MODEL,
        input="Run `print(open('n.txt').read())`",
        tools=[{"type": "code_interpreter", "container": {"type": "auto", "file_ids": [auto_with_file.id]}}],
    )
    assert "seven" in response.output_text


def test_web_search_answer_has_url_citations_from_the_corpus(tools_client: OpenAI) -> None:
    response = tools_client.responses.create(
        model=MODEL,
        input="search the latest on asyncio TaskGroup",
        tools=[{"type": "web_search"}],
        include=["web_search_call.action.sources"],
    )
    call = response.output[0]
    assert call.type == "web_search_call" and call.status == "completed"
    assert call.action.sources[0].url == "https://docs.python.org/3/library/asyncio-task.html"
    cited = annotations(response)
    assert cited[0].type == "url_citation" and cited[0].url == "https://docs.python.org/3/library/asyncio-task.html"
    assert cited[0].title == "Coroutines and Tasks"
    assert response.output_text[cited[0].start_index : cited[0].end_index].startswith("[Coroutines and Tasks](")
    assert response.tool_usage is not None and response.tool_usage.web_search.num_requests == 1
    only_zoo = tools_client.responses.create(
        model=MODEL,
        input="search penguins and tasks",
        tools=[{"type": "web_search", "filters": {"allowed_domains": ["example.org"]}}],
    )
    assert {a.url for a in annotations(only_zoo)} == {"https://zoo.example.org/penguins"}


def test_with_web_search_on_a_question_searches_without_the_word_search(tools_client: OpenAI) -> None:
    web = [{"type": "web_search"}]
    asked = tools_client.responses.create(model=MODEL, input="Can penguins fly?", tools=web)
    assert asked.output[0].type == "web_search_call" and asked.output[0].action.query == "Can penguins fly?"
    assert "https://zoo.example.org/penguins" in {note.url for note in annotations(asked)}
    # Web search the only tool: any message but small talk searches.
    told = tools_client.responses.create(model=MODEL, input="Penguins swim fast", tools=web)
    assert told.output[0].type == "web_search_call"
    for small_talk in ("Thanks!", "hello from a terminal"):
        reply = tools_client.responses.create(model=MODEL, input=small_talk, tools=web)
        assert [item.type for item in reply.output] == ["message"], small_talk
    # Beside other tools only a question searches, and a function the message names is called instead.
    not_asked = tools_client.responses.create(model=MODEL, input="Penguins swim fast", tools=[*web, *CODE])
    assert [item.type for item in not_asked.output] == ["message"]
    weather = {
        "type": "function",
        "name": "get_weather",
        "strict": False,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    function = tools_client.responses.create(model=MODEL, input="What is the weather in Paris?", tools=[*web, weather])
    assert [(item.type, getattr(item, "name", None)) for item in function.output] == [("function_call", "get_weather")]


def test_web_search_without_a_provider_says_so(tmp_path: Path) -> None:
    with LocalServer(tool_settings=tool_settings(tmp_path, web_search=None)) as server, make_client(server) as client:
        response = client.responses.create(model=MODEL, input="search the news", tools=[{"type": "web_search"}])
        assert response.output[0].status == "failed"
        assert "No web search provider is configured" in response.output_text
        assert client.responses.create(model=MODEL, input="hello").status == "completed"


def test_tool_choice_is_respected(tools_client: OpenAI) -> None:
    store_id, _ = vector_store_with(tools_client, DOCUMENTS)
    both = [{"type": "file_search", "vector_store_ids": [store_id]}, *CODE]
    none = tools_client.responses.create(model=MODEL, input="What is 17*23?", tools=both, tool_choice="none")
    assert [item.type for item in none.output] == ["message"]
    forced = tools_client.responses.create(
        model=MODEL, input="What is 17*23?", tools=both, tool_choice={"type": "file_search"}
    )
    assert forced.output[0].type == "file_search_call"
    required = tools_client.responses.create(model=MODEL, input="hello there", tools=CODE, tool_choice="required")
    assert required.output[0].type == "code_interpreter_call"
    plain = tools_client.responses.create(model=MODEL, input="hello there", tools=both)
    assert [item.type for item in plain.output] == ["message"]


def test_bad_tool_settings_are_400s(tools_client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="vs_missing"):
        tools_client.responses.create(
            model=MODEL, input="q?", tools=[{"type": "file_search", "vector_store_ids": ["vs_missing"]}]
        )
    with pytest.raises(openai.BadRequestError, match="container"):
        tools_client.responses.create(model=MODEL, input="x", tools=[{"type": "code_interpreter"}])  # type: ignore[list-item]
    with pytest.raises(openai.NotFoundError):
        tools_client.responses.create(
            model=MODEL, input="x", tools=[{"type": "code_interpreter", "container": "cntr_missing"}]
        )


def test_containers_expire_when_idle(tmp_path: Path) -> None:
    settings = tool_settings(write_corpus(tmp_path / "corpus"), container_idle_timeout_s=0.5)
    with LocalServer(db_path=tmp_path / "server.db", tool_settings=settings) as server, make_client(server) as client:
        container = client.containers.create(name="short-lived")
        first = client.responses.create(
            model=MODEL, input="```python\nx = 1\n```", tools=[{"type": "code_interpreter", "container": container.id}]
        )
        assert first.output[0].status == "completed"
        time.sleep(1.1)
        assert client.containers.retrieve(container.id).status == "expired"
        with pytest.raises(openai.BadRequestError) as expired:
            client.responses.create(
                model=MODEL,
                input="```python\nprint(x)\n```",
                tools=[{"type": "code_interpreter", "container": container.id}],
            )
        assert expired.value.code == "container_expired"
        with pytest.raises(openai.BadRequestError):
            client.containers.files.create(container.id, file=("a.txt", b"a"))
        # An auto container that expired is replaced by a new one, never revived.
        again = client.responses.create(
            model=MODEL, input="```python\nprint('new')\n```", tools=CODE, previous_response_id=first.id
        )
        assert again.output[0].container_id != container.id and "new" in again.output_text


def test_a_run_longer_than_the_idle_timeout_does_not_expire_its_container(tmp_path: Path) -> None:
    # Idle time counts from the end of the last call: a container busy running code is not idle.
    settings = tool_settings(write_corpus(tmp_path / "corpus"), container_idle_timeout_s=0.5)
    with LocalServer(db_path=tmp_path / "server.db", tool_settings=settings) as server, make_client(server) as client:
        container = client.containers.create(name="busy")
        tools = [{"type": "code_interpreter", "container": container.id}]
        slow = client.responses.create(
            model=MODEL, input="```python\nimport time\ntime.sleep(1.2)\nx = 7\n```", tools=tools
        )
        assert slow.output[0].status == "completed"
        after = client.responses.create(model=MODEL, input="```python\nprint(x * 6)\n```", tools=tools)
        assert "42" in after.output_text


HOSTILE = {
    "network": (
        "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 53))",
        "Network is unreachable",
    ),
    "read /etc/shadow": ("print(open('/etc/shadow').read())", "Error"),
    "read the home folder": ("import os\nprint(open(os.path.expanduser('~root/.profile')).read())", "Error"),
    "write outside": ("open('/usr/local/evil.txt', 'w').write('x')", "Error"),
    "fork bomb": ("import os\nwhile True:\n    os.fork()", "more processes than the sandbox allows"),
    "allocate 8 GB": ("block = bytearray(8 * 1024 ** 3)", "ran out of memory"),
    "infinite loop": ("while True:\n    pass", "[error] The code"),  # CPU limit, or wall limit on a busy machine
    "print 100 MB": ("print('x' * 100_000_000)", "printed more than"),
}


@pytest.mark.skipif(not SANDBOXED, reason="neither bubblewrap nor unshare can sandbox code here")
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_code_is_contained_and_the_server_stays_healthy(tools_client: OpenAI, case: str) -> None:
    code, expected = HOSTILE[case]
    response = tools_client.responses.create(
        model=MODEL, input=f"```python\n{code}\n```", tools=CODE, include=["code_interpreter_call.outputs"]
    )
    call = response.output[0]
    logs = "".join(output.logs for output in call.outputs or [] if output.type == "logs")
    assert expected in logs, logs[-500:]
    assert "root:" not in logs
    assert response.status == "completed" and response.output_text
    assert not Path("/usr/local/evil.txt").exists()
    healthy = tools_client.responses.create(model=MODEL, input="What is 2+3?", tools=CODE)
    assert "5" in healthy.output_text
