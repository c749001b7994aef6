"""Web search behind a small provider interface, with an offline default: a folder of HTML/Markdown pages.

`WebSearchProvider.search(query, max_results, allowed_domains)` returns ranked pages (url, title, snippet).
`PageCorpus` indexes a folder with BM25 over page sections; every page keeps a real URL:

- Debian's `python3-doc` HTML (/usr/share/doc/python3/html) maps each file to its docs.python.org URL;
- any other folder (`ASSISTANT_WEB_CORPUS`) uses an HTML page's `<link rel="canonical">`, a Markdown page's
  `url:` front-matter line, or else the file's own `file://` URL.

`default_web_search_provider()` picks `ASSISTANT_WEB_CORPUS` when set (an explicit choice beats what happens to
be installed), else the Python docs when installed, else None: callers then answer with `NoWebSearchProvider`'s
clear error. A provider that reaches the real web can be plugged in wherever a network exists.
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
from urllib.parse import urlparse

from .chunking import ChunkingStrategy, chunk_text
from .errors import ToolError
from .retrieval import ChunkIndex
from .text_extraction import html_document

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
    """What answers when nothing is configured: every search is a clear tool error."""

    name = "none"

    def search(self, query: str, *, max_results: int = 5, allowed_domains: Sequence[str] = ()) -> list[WebResult]:
        raise ToolError(
            "No web search provider is configured: install Debian's python3-doc package, or set "
            f"{CORPUS_ENV} to a folder of HTML or Markdown pages.",
            "no_search_provider",
        )


@dataclass(frozen=True)
class _Page:
    url: str
    title: str


class PageCorpus:
    """A folder of .html/.htm/.md pages, indexed on first search (thread-safe)."""

    def __init__(self, folder: Path, url_for: Callable[[Path, str], str] | None = None, name: str | None = None):
        self.folder = Path(folder)
        self.name = name or f"corpus:{self.folder}"
        self._url_for = url_for or _declared_url
        self._lock = threading.Lock()
        self._index: ChunkIndex | None = None
        self._sections: list[tuple[int, str]] = []  # (page number, section text)
        self._pages: list[_Page] = []

    def search(self, query: str, *, max_results: int = 5, allowed_domains: Sequence[str] = ()) -> list[WebResult]:
        index = self._ensure_index()
        allowed = None
        if allowed_domains:
            import numpy as np

            pages_ok = [_domain_allowed(page.url, allowed_domains) for page in self._pages]
            allowed = np.array([pages_ok[page] for page, _ in self._sections], dtype=bool)
        results: list[WebResult] = []
        seen: set[int] = set()
        for hit in index.search(query, max_results * 4, allowed=allowed):
            page_number, text = self._sections[hit.position]
            if page_number in seen:
                continue  # one result per page: its best section
            seen.add(page_number)
            page = self._pages[page_number]
            results.append(WebResult(page.url, page.title, _snippet(text), hit.score))
            if len(results) == max_results:
                break
        return results

    def warm(self) -> None:
        """Build the index on a background thread, so the first search does not wait for it."""
        threading.Thread(target=self._ensure_index_quietly, name="web-corpus-index", daemon=True).start()

    def _ensure_index_quietly(self) -> None:
        try:
            self._ensure_index()
        except ToolError as error:
            logger.warning("web corpus not indexed: %s", error)

    def _ensure_index(self) -> ChunkIndex:
        with self._lock:
            if self._index is None:
                self._index = self._build()
            return self._index

    def _build(self) -> ChunkIndex:
        if not self.folder.is_dir():
            raise ToolError(f"The web search corpus folder {self.folder} does not exist.", "no_search_provider")
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
            page_number = len(self._pages)
            self._pages.append(_Page(self._url_for(path, raw), title))
            for section in chunk_text(text, _SECTION_CHUNKS):
                self._sections.append((page_number, section))
        logger.info("web corpus %s: %d pages, %d sections", self.folder, len(self._pages), len(self._sections))
        return ChunkIndex([f"{self._pages[page].title}\n{text}" for page, text in self._sections])


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


def default_web_search_provider() -> WebSearchProvider | None:
    folder = os.environ.get(CORPUS_ENV)
    if folder:
        return PageCorpus(Path(folder).expanduser())
    return python_docs_corpus()


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
