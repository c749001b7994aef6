"""The pydoc web search corpus: the standard library's own documentation, with docs.python.org URLs, built once
into the cache folder and read from there; a cache file that cannot be read is rebuilt."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from assistant.tools import PydocCorpus, ToolError, default_web_search_provider, describe_web_search
from assistant.tools.pydoc_corpus import cached_page_count, corpus_path, load_pages, python_version

DOCS = f"https://docs.python.org/{sys.version_info.major}.{sys.version_info.minor}/"
ENVIRONMENT_MARKER = "quagga-in-the-environment"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder where the corpus was built (once for this module: a build renders every module)."""
    folder = tmp_path_factory.mktemp("pydoc-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYDOC_CORPUS_TEST_VARIABLE", ENVIRONMENT_MARKER)
        PydocCorpus(folder).search("anything")
    return folder


@pytest.fixture(scope="module")
def corpus(built: Path) -> PydocCorpus:
    return PydocCorpus(built)


def test_the_corpus_is_built_once_into_a_private_cache_file(built: Path) -> None:
    path = corpus_path(built)
    assert path.parent == built and python_version() in path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [entry.name for entry in built.iterdir()] == [path.name]  # no temporary file left behind
    before = path.stat()
    pages = load_pages(path)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # read, not written again
    assert len(pages) > 1000 and len({page.url for page in pages}) == len(pages)
    assert all(page.url.startswith(DOCS) and page.title and page.text for page in pages)
    # pydoc shows default values, and cgi.FieldStorage's is os.environ: the build must not see the user's.
    assert "cgi.FieldStorage" in path.read_text() and ENVIRONMENT_MARKER not in path.read_text()


def test_a_second_corpus_reads_the_cache_instead_of_building(built: Path, tmp_path: Path) -> None:
    # A cache whose page says something no Python docstring says: finding it proves the search read the cache.
    data = json.loads(corpus_path(built).read_text())
    data["pages"][0] = [f"{DOCS}library/zebra.html", "zebra", "Zebras quietly graze beside the quokka."]
    corpus_path(tmp_path).write_text(json.dumps(data))
    corpus = PydocCorpus(tmp_path)
    assert [result.url for result in corpus.search("quokka")] == [f"{DOCS}library/zebra.html"]
    assert f"({len(data['pages']):,} pages, cached in {corpus_path(tmp_path)})" in describe_web_search(corpus)


def test_pages_link_to_the_page_that_documents_them(built: Path) -> None:
    urls = {page.url: page for page in load_pages(corpus_path(built))}
    for url in (
        f"{DOCS}reference/compound_stmts.html#for",
        f"{DOCS}reference/compound_stmts.html#with",
        f"{DOCS}library/string.html#formatstrings",
        f"{DOCS}library/functions.html#open",
        f"{DOCS}library/stdtypes.html#str",
        f"{DOCS}library/exceptions.html#FileNotFoundError",
        f"{DOCS}library/io.html#module-io",
        f"{DOCS}library/io.html#io.TextIOWrapper",
        f"{DOCS}library/os.path.html#os.path.join",
        f"{DOCS}library/asyncio-task.html#asyncio.gather",
        f"{DOCS}library/json.html#json.loads",
        f"{DOCS}library/pathlib.html#pathlib.Path",
    ):
        assert url in urls, url
    assert urls[f"{DOCS}reference/compound_stmts.html#for"].title == 'The "for" statement'
    assert "Open file and return a stream" in urls[f"{DOCS}library/functions.html#open"].text
    # Modules with side effects on import are left out; so is what a class inherits from a documented class.
    assert not any("/antigravity.html" in url or "/this.html" in url for url in urls)
    assert "Methods inherited from builtins" not in urls[f"{DOCS}library/exceptions.html#FileNotFoundError"].text


def test_searching_it_finds_pages_about_the_question(corpus: PydocCorpus) -> None:
    results = corpus.search("How do I read a file line by line in Python?")
    assert len(results) == 5 and all(result.url.startswith(DOCS) for result in results)
    assert len({result.url.split("#")[0] for result in results}) == 5  # one result per page of the docs
    assert all("file" in result.snippet.lower() and "line" in result.snippet.lower() for result in results[:3])
    opened = corpus.search("open a file", allowed_domains=["docs.python.org"])
    assert f"{DOCS}library/functions.html#open" in [result.url for result in opened]
    assert corpus.search("open a file", allowed_domains=["example.org"]) == []
    assert corpus.search("open a file", max_results=0) == []


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{not json",
        "[1, 2]",
        '{"format": 1}',
        '{"format": 1, "python": "PYTHON", "pages": [["only a url"]]}',
        '{"format": 1, "python": "PYTHON", "pages": 3}',
        '{"format": 0, "python": "PYTHON", "pages": []}',
        '{"format": 1, "python": "cpython-2.7.18", "pages": []}',
    ],
)
def test_a_cache_file_that_cannot_be_read_counts_as_none(tmp_path: Path, content: str) -> None:
    path = corpus_path(tmp_path)
    path.write_text(content.replace("PYTHON", python_version()))
    assert cached_page_count(path) is None
    path.write_text(f'{{"format": 1, "python": "{python_version()}", "pages": [["u", "t", "x"]]}}')
    assert cached_page_count(path) == 1


def test_a_cache_file_that_cannot_be_read_is_rebuilt(built: Path, tmp_path: Path) -> None:
    path = corpus_path(tmp_path)
    path.write_text('{"format": 1, "python": "' + python_version() + '", "pages": [["half a page')
    assert [page.url for page in load_pages(path)] == [page.url for page in load_pages(corpus_path(built))]
    assert json.loads(path.read_text())["python"] == python_version()


def test_an_unwritable_cache_folder_still_answers(built: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    results = PydocCorpus(blocked).search("parse a JSON string")
    assert any(result.url.startswith(f"{DOCS}library/json.html") for result in results)


def test_the_default_provider_is_the_pydoc_corpus_without_a_folder_or_python3_doc(
    tmp_path: Path, cache_home: Path
) -> None:
    provider = default_web_search_provider(python_docs=tmp_path / "no-python3-doc")
    assert isinstance(provider, PydocCorpus)
    assert provider.path == corpus_path(cache_home / "assistant")  # the user's cache folder (XDG_CACHE_HOME here)
    assert describe_web_search(provider).startswith(f"pydoc corpus of Python {sys.version.split()[0]}")
    docs = tmp_path / "python3.11-doc" / "html"
    (docs / "library").mkdir(parents=True)
    assert default_web_search_provider(python_docs=docs).name == "python3.11-docs"


def test_a_corpus_folder_that_is_gone_is_described_and_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_WEB_CORPUS", str(tmp_path / "gone"))
    gone = tmp_path / "gone"
    assert describe_web_search() == f"pages in {gone} (corpus:{gone}; the folder does not exist)"
    with pytest.raises(ToolError, match="does not exist"):
        default_web_search_provider().search("anything")
