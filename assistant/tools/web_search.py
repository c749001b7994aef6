"""Web search behind a small provider interface, with offline defaults that always work.

`WebSearchProvider.search(query, max_results, allowed_domains)` returns ranked pages (url, title, snippet). The
offline providers rank sections of their pages with BM25 and keep one result per page; every page has a real URL:

- `PageCorpus(folder)`: a folder of HTML/Markdown pages (`ASSISTANT_WEB_CORPUS`), each at its
  `<link rel="canonical">`, its Markdown `url:` front-matter line, or else its own `file://` URL;
- `python_docs_corpus()`: Debian's `python3-doc` HTML (/usr/share/doc/python3/html), each file at its
  docs.python.org URL;
- `PydocCorpus()`: the documentation every Python carries, rendered by pydoc and cached (pydoc_corpus.py).

`default_web_search_provider()` picks `ASSISTANT_WEB_CORPUS` when set (an explicit choice beats what happens to
be installed), else the Python docs when installed, else the pydoc corpus. `describe_web_search()` says in one
line which one answers. A provider that reaches the real web can be plugged in wherever a network exists.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urldefrag, urlparse

from . import pydoc_corpus
from .chunking import ChunkingStrategy, chunk_text
from .pydoc_corpus import DocPage
from .retrieval import ChunkIndex
from .text_extraction import html_document
from .tool_error import ToolError

logger = logging.getLogger(__name__)

PYTHON_DOCS = Path("/usr/share/doc/python3/html")
CORPUS_ENV = "ASSISTANT_WEB_CORPUS"
_SECTION_CHUNKS = ChunkingStrategy(max_chunk_size_tokens=160, chunk_overlap_tokens=40)
_MAX_PAGE_BYTES = 1 << 20  # index pages and tables of contents would drown real pages
_SNIPPET_CHARS = 320
# Sphinx's generated pages list every term of the site; they would win every query without answering it.
_GENERATED_PAGES = ("genindex", "py-modindex", "search.", "contents.")
_CANONICAL = re.compile(r"<link[^>]+rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)[\"']", re.IGNORECASE)
_FRONT_MATTER_URL = re.compile(r"^url:\s*(\S+)\s*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_MARKDOWN_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)
# The words of a question that say it is one ("How do I ...?"): they would match pages that happen to say "how".
_QUESTION_WORDS = frozenset(
    [
        "how",
        "do",
        "does",
        "did",
        "i",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "when",
        "where",
        "can",
        "could",
        "should",
        "would",
        "you",
        "me",
        "my",
        "we",
        "our",
        "please",
        "tell",
        "show",
        "explain",
        "is",
        "are",
        "was",
        "were",
    ]
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class WebResult:
    url: str
    title: str
    snippet: str  # the best-matching passage of the page
    score: float  # in [0, 1)


class WebSearchProvider(Protocol):
    name: str

    def search(self, query: str, *, max_results: int = 5, allowed_domains: Sequence[str] = ()) -> list[WebResult]:
        """Best pages first. Raises ToolError when the search cannot be done."""
        ...


class NoWebSearchProvider:
    """What answers when web search is turned off: every search is a clear tool error."""

    name = "none"

    def search(self, query: str, *, max_results: int = 5, allowed_domains: Sequence[str] = ()) -> list[WebResult]:
        raise ToolError(
            "No web search provider is configured: this server was started without one "
            f"(the default searches {CORPUS_ENV}, Debian's python3-doc, or Python's own pydoc documentation).",
            "no_search_provider",
        )

    def describe(self) -> str:
        return "none (web search is turned off)"


class _PageIndex:
    """BM25 over sections of pages; one result per page (a URL without its #fragment), from its best section."""

    def __init__(self, pages: Sequence[DocPage]) -> None:
        self.pages = list(pages)
        self._sections: list[tuple[int, str]] = []  # (page number, section text)
        for number, page in enumerate(self.pages):
            for section in chunk_text(page.text, _SECTION_CHUNKS):
                self._sections.append((number, section))
        self._documents = [urldefrag(page.url).url for page in self.pages]
        self._index = ChunkIndex([f"{self.pages[number].title}\n{text}" for number, text in self._sections])

    @property
    def section_count(self) -> int:
        return len(self._sections)

    def search(self, query: str, max_results: int, allowed_domains: Sequence[str]) -> list[WebResult]:
        if max_results <= 0:
            return []
        allowed = None
        if allowed_domains:
            import numpy as np

            pages_ok = [_domain_allowed(page.url, allowed_domains) for page in self.pages]
            allowed = np.array([pages_ok[number] for number, _ in self._sections], dtype=bool)
        words = _WORD.findall(query)
        query = " ".join(word for word in words if word.lower() not in _QUESTION_WORDS) or query
        # Many of the best sections may share a page: look further down until there are enough pages.
        wanted = max_results * 8
        while True:
            hits = self._index.search(query, wanted, allowed=allowed)
            results: list[WebResult] = []
            seen: set[str] = set()
            for hit in hits:
                number, text = self._sections[hit.position]
                if self._documents[number] in seen:
                    continue
                seen.add(self._documents[number])
                page = self.pages[number]
                results.append(WebResult(page.url, page.title, _snippet(text), hit.score))
                if len(results) == max_results:
                    return results
            if len(hits) < wanted:
                return results
            wanted *= 4


class _IndexedPages:
    """A provider whose pages are loaded and indexed on first search (thread-safe), or ahead of it by `warm()`."""

    name = "pages"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: _PageIndex | None = None

    def search(self, query: str, *, max_results: int = 5, allowed_domains: Sequence[str] = ()) -> list[WebResult]:
        return self._ensure_index().search(query, max_results, allowed_domains)

    def warm(self) -> None:
        """Build the index on a background thread, so the first search does not wait for it."""
        threading.Thread(target=self._ensure_index_quietly, name="web-corpus-index", daemon=True).start()

    def _ensure_index_quietly(self) -> None:
        try:
            self._ensure_index()
        except ToolError as error:
            logger.warning("web corpus not indexed: %s", error)

    def _ensure_index(self) -> _PageIndex:
        with self._lock:
            if self._index is None:
                self._index = _PageIndex(self._load())
                logger.info(
                    "web corpus %s: %d pages, %d sections", self.name, len(self._index.pages), self._index.section_count
                )
            return self._index

    def _load(self) -> list[DocPage]:
        raise NotImplementedError


class PageCorpus(_IndexedPages):
    """A folder of .html/.htm/.md pages."""

    def __init__(self, folder: Path, url_for: Callable[[Path, str], str] | None = None, name: str | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.name = name or f"corpus:{self.folder}"
        self._url_for = url_for or _declared_url

    def describe(self) -> str:
        missing = "" if self.folder.is_dir() else "; the folder does not exist"
        return f"pages in {self.folder} ({self.name}{missing})"

    def _load(self) -> list[DocPage]:
        if not self.folder.is_dir():
            raise ToolError(f"The web search corpus folder {self.folder} does not exist.", "no_search_provider")
        pages = []
        for path in sorted(self.folder.rglob("*")):
            if path.suffix.lower() not in (".html", ".htm", ".md", ".markdown") or not path.is_file():
                continue
            if any(part.startswith(("_", ".")) for part in path.relative_to(self.folder).parts):
                continue  # Sphinx's _sources/_static, hidden folders
            if path.name.startswith(_GENERATED_PAGES):
                continue
            if path.stat().st_size > _MAX_PAGE_BYTES:
                continue
            raw = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix.lower() in (".md", ".markdown"):
                text = _FRONT_MATTER.sub("", raw, count=1)
                title_match = _MARKDOWN_TITLE.search(text)
                title = title_match.group(1).strip() if title_match else path.stem
            else:
                document = html_document(raw)
                title, text = document.title or path.stem, document.text
            pages.append(DocPage(self._url_for(path, raw), title, text))
        return pages


class PydocCorpus(_IndexedPages):
    """The standard library's documentation rendered by pydoc (pydoc_corpus.py): built on first use, about 5 s
    on 2 cores, then read from the user's cache folder (`cache_dir` instead, when given)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        super().__init__()
        self.path = pydoc_corpus.corpus_path(cache_dir)
        self.name = f"pydoc:{pydoc_corpus.python_version()}"

    def describe(self) -> str:
        version = pydoc_corpus.python_version().split("-")[-1]
        count = len(self._index.pages) if self._index is not None else pydoc_corpus.cached_page_count(self.path)
        if count is None:
            return f"pydoc corpus of Python {version} (built on the first web search, cached in {self.path})"
        return f"pydoc corpus of Python {version} ({count:,} pages, cached in {self.path})"

    def _load(self) -> list[DocPage]:
        return pydoc_corpus.load_pages(self.path)


def python_docs_corpus(root: Path = PYTHON_DOCS) -> PageCorpus | None:
    """Debian's python3-doc HTML with docs.python.org URLs, or None when it is not installed."""
    if not (root / "library").is_dir():
        return None
    # /usr/share/doc/python3/html -> ../python3.11-doc/html: the version in the URL is the docs' own version.
    match = re.search(r"python(3\.\d+)", str(root.resolve()))
    version = match.group(1) if match else "3"
    resolved = root.resolve()

    def url_for(path: Path, raw: str) -> str:
        return f"https://docs.python.org/{version}/{path.resolve().relative_to(resolved).as_posix()}"

    return PageCorpus(resolved, url_for, name=f"python{version}-docs")


def default_web_search_provider(python_docs: Path = PYTHON_DOCS, cache_dir: Path | None = None) -> WebSearchProvider:
    """`ASSISTANT_WEB_CORPUS`'s folder when set, else python3-doc at `python_docs` when installed, else the pydoc
    corpus (cached in `cache_dir`, by default the user's cache folder)."""
    folder = os.environ.get(CORPUS_ENV)
    if folder:
        return PageCorpus(Path(folder).expanduser())
    return python_docs_corpus(python_docs) or PydocCorpus(cache_dir)


def describe_web_search(provider: WebSearchProvider | None = None) -> str:
    """One line saying what `provider` (by default the one `default_web_search_provider()` picks) searches,
    without building anything: for `assistant config`."""
    provider = provider if provider is not None else default_web_search_provider()
    describe = getattr(provider, "describe", None)
    return describe() if callable(describe) else provider.name


def _declared_url(path: Path, raw: str) -> str:
    match = _CANONICAL.search(raw) or (_FRONT_MATTER_URL.search(raw) if raw.startswith("---") else None)
    return match.group(1) if match else path.resolve().as_uri()


def _domain_allowed(url: str, allowed_domains: Sequence[str]) -> bool:
    host = (urlparse(url).hostname or "").lower()
    for domain in allowed_domains:
        domain = domain.lower().removeprefix("https://").removeprefix("http://").strip("/")
        if host == domain or host.endswith("." + domain):
            return True
    return False


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= _SNIPPET_CHARS:
        return flat
    cut = flat[:_SNIPPET_CHARS]
    return cut[: cut.rfind(" ")] + "…" if " " in cut else cut + "…"
