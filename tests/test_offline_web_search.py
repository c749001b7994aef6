"""Web search with nothing installed: no ASSISTANT_WEB_CORPUS and no python3-doc. A question asked with web search
on (without the word "search") is answered from Python's own documentation, rendered by pydoc, with url_citation
annotations on docs.python.org pages; through the library and the real SDK, and through the command line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from assistant import Assistant
from assistant.server import LocalServer
from assistant.server.hosted_tools import HostedToolSettings
from assistant.tools import PydocCorpus, default_web_search_provider
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY

QUESTION = "How do I read a file line by line in Python?"
DOCS = f"https://docs.python.org/{sys.version_info.major}.{sys.version_info.minor}/"


def cited_lines(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The line of the answer each citation is in: the quoted passage and its link."""
    return [text[text.rfind("\n", 0, start) + 1 : end] for start, end in spans]


def test_a_question_with_web_search_cites_the_python_docs_with_nothing_installed(tmp_path: Path) -> None:
    provider = default_web_search_provider(python_docs=tmp_path / "no-python3-doc")
    assert isinstance(provider, PydocCorpus)
    settings = HostedToolSettings(web_search=provider)
    with (
        LocalServer(db_path=tmp_path / "server.db", tool_settings=settings) as server,
        Assistant(
            base_url=server.base_url,
            api_key=TEST_KEY,
            db_path=tmp_path / "index.db",
            strict_validation=True,
            max_retries=0,
        ) as assistant,
    ):
        thread = assistant.thread(tools="web")
        turn = thread.ask(QUESTION)
        citations = assistant.store.citations(thread.id)
        [call] = assistant.store.tool_calls(thread.id)
    assert turn.status == "completed" and call.type == "web_search_call" and call.queries == [QUESTION]
    assert len(citations) >= 3 and all(row.type == "url_citation" for row in citations)
    assert all(row.url.startswith(f"{DOCS}library/") or row.url.startswith(f"{DOCS}reference/") for row in citations)
    lines = cited_lines(turn.text, [(row.start_index, row.end_index) for row in citations])
    for row, line in zip(citations, lines, strict=False):
        assert line.endswith(f"]({row.url})"), line  # the citation covers the link at the end of its line
    # What is quoted is about reading lines of files.
    assert all("file" in line.lower() and "line" in line.lower() for line in lines[:3]), lines


def test_the_command_line_answers_with_python_docs_links(tmp_path: Path) -> None:
    # The embedded server's own default: python3-doc when this machine has it, else the pydoc corpus (both link
    # to docs.python.org); XDG_CACHE_HOME (tests/support/fixtures.py) keeps the corpus out of the user's cache.
    env = environment(ASSISTANT_DB=str(tmp_path / "index.db"))
    answer = run_cli("ask", QUESTION, "--tools", "web", env=env, timeout=300)
    assert answer.returncode == 0, answer.stderr
    links = re.findall(r"\]\((https://[^)\s]+)\)", answer.stdout)
    assert len(links) >= 3 and all(link.startswith(DOCS) for link in links), answer.stdout
