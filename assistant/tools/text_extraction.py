"""Plain text out of uploaded files, for indexing: text and source code, Markdown, HTML and PDF.

The format is decided by the file name's extension and, for names without a known one, by sniffing the bytes:
PDF by its `%PDF-` magic, text by decoding as UTF-8 without NUL bytes. Anything else is `UnsupportedFile`, so a
vector store can mark the file `failed` with a reason instead of indexing garbage.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath

from .tool_error import UnsupportedFile

HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
PDF_EXTENSIONS = frozenset({".pdf"})
# Extensions that are text by definition (prose, markup, data, and source code); decoded as UTF-8.
TEXT_EXTENSIONS = frozenset(
    [
        ".txt",
        ".text",
        ".md",
        ".markdown",
        ".rst",
        ".adoc",
        ".org",
        ".tex",
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".log",
        ".xml",
        ".svg",
        ".py",
        ".pyi",
        ".ipynb",
        ".js",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".jsx",
        ".java",
        ".kt",
        ".scala",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hpp",
        ".cs",
        ".go",
        ".rs",
        ".rb",
        ".php",
        ".pl",
        ".pm",
        ".sh",
        ".bash",
        ".zsh",
        ".fish",
        ".ps1",
        ".sql",
        ".r",
        ".jl",
        ".lua",
        ".swift",
        ".m",
        ".mm",
        ".dart",
        ".ex",
        ".exs",
        ".erl",
        ".hs",
        ".ml",
        ".vue",
        ".svelte",
        ".css",
        ".scss",
        ".less",
        ".dockerfile",
        ".makefile",
        ".gradle",
        ".properties",
        ".env",
    ]
)
# Formats that are common uploads but that this extractor does not read; named so the error can say so.
KNOWN_BINARY_EXTENSIONS = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".webp",
        ".bmp",
        ".ico",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".tar",
        ".exe",
        ".dll",
        ".so",
        ".bin",
        ".mp3",
        ".mp4",
        ".wav",
        ".mov",
        ".avi",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".sqlite",
        ".db",
        ".pkl",
        ".npy",
        ".parquet",
    ]
)


@dataclass(frozen=True)
class HtmlDocument:
    title: str
    text: str


def extract_text(data: bytes, filename: str) -> str:
    """The file's text. Raises `UnsupportedFile` when there is no text to index."""
    extension = PurePosixPath(filename.lower()).suffix
    if extension in PDF_EXTENSIONS or data.startswith(b"%PDF-"):
        text = _pdf_text(data, filename)
    elif extension in HTML_EXTENSIONS:
        text = html_document(_decode(data, filename)).text
    elif extension in KNOWN_BINARY_EXTENSIONS:
        raise UnsupportedFile(f"The file type {extension} of '{filename}' is not supported for retrieval.")
    else:
        text = _decode(data, filename)
    if not text.strip():
        raise UnsupportedFile(f"The file '{filename}' contains no text to index.", code="invalid_file")
    return text


def _decode(data: bytes, filename: str) -> str:
    if b"\x00" in data[:8192]:
        raise UnsupportedFile(f"The file '{filename}' is binary, not text; it cannot be indexed for retrieval.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedFile(
            f"The file '{filename}' is not valid UTF-8 text; it cannot be indexed for retrieval."
        ) from None


def _pdf_text(data: bytes, filename: str) -> str:
    from pypdf import PdfReader  # imported here: only PDF uploads pay for it
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise UnsupportedFile(f"The PDF '{filename}' could not be read: {error}", code="invalid_file") from None


def html_document(html: str) -> HtmlDocument:
    """Title and visible text of an HTML page (scripts, styles and navigation chrome dropped)."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(parser.parts))
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    return HtmlDocument(title=" ".join("".join(parser.title).split()), text=text)


class _TextParser(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "nav", "footer"})
    _BLOCKS = frozenset(
        {
            "p",
            "div",
            "section",
            "article",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "pre",
            "dt",
            "dd",
            "blockquote",
            "table",
            "ul",
            "ol",
            "dl",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(data)
