"""Local tool runtimes: file search, a Python sandbox and web search providers.

They do the work behind the hosted tools, with no HTTP in between, so the local server (`assistant.server`) and
the Chat Completions fallback (which runs hosted tools locally as function tools) share them:

- files: `extract_text(bytes, filename)` -> text (txt, md, html, pdf, source code) or `UnsupportedFile`;
  `chunk_document(...)` with a `ChunkingStrategy`; `FileSearchIndex(chunks).search(query, ...)` -> scored
  `FileSearchResult`s (BM25 via bm25s, the API's attribute filters).
- code: `PythonSandbox(folder, SandboxLimits(...)).run(code)` -> `ExecutionResult(logs, error, files,
  restarted)`; one persistent process per folder, isolated by bwrap, unshare or resource limits
  (`detect_isolation()`).
- web: `default_web_search_provider()` -> a `WebSearchProvider`: `PageCorpus` over `ASSISTANT_WEB_CORPUS` or
  python3-doc, else `PydocCorpus` (the standard library's own documentation rendered by pydoc, built once and
  cached); `describe_web_search()` says which in one line; `NoWebSearchProvider` is web search turned off.

Every runtime reports a failure the user should see as `ToolError` (message + `code`).
"""

from .chunking import ChunkingStrategy, chunk_text
from .code_sandbox import (
    ExecutionResult,
    Isolation,
    ProducedFile,
    PythonSandbox,
    SandboxLimits,
    detect_isolation,
    isolation_available,
)
from .file_search import DocumentChunk, FileSearchIndex, FileSearchResult, chunk_document, matches_filter
from .retrieval import ChunkIndex, SearchHit
from .text_extraction import extract_text, html_document
from .tool_error import ToolError, UnsupportedFile
from .web_search import (
    NoWebSearchProvider,
    PageCorpus,
    PydocCorpus,
    WebResult,
    WebSearchProvider,
    default_web_search_provider,
    describe_web_search,
    python_docs_corpus,
)

__all__ = [
    "ChunkIndex",
    "ChunkingStrategy",
    "DocumentChunk",
    "ExecutionResult",
    "FileSearchIndex",
    "FileSearchResult",
    "Isolation",
    "NoWebSearchProvider",
    "PageCorpus",
    "ProducedFile",
    "PydocCorpus",
    "PythonSandbox",
    "SandboxLimits",
    "SearchHit",
    "ToolError",
    "UnsupportedFile",
    "WebResult",
    "WebSearchProvider",
    "chunk_document",
    "chunk_text",
    "default_web_search_provider",
    "describe_web_search",
    "detect_isolation",
    "extract_text",
    "html_document",
    "isolation_available",
    "matches_filter",
    "python_docs_corpus",
]
