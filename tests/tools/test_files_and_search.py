"""Text extraction, chunking, BM25 file search with filters, and the web search providers."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.tools import (
    ChunkingStrategy,
    FileSearchIndex,
    NoWebSearchProvider,
    PageCorpus,
    ToolError,
    UnsupportedFile,
    chunk_document,
    chunk_text,
    extract_text,
    python_docs_corpus,
)
from assistant.tools.chunking import count_tokens


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_extracts_text_markdown_html_code_and_pdf() -> None:
    assert extract_text(b"plain words", "notes.txt") == "plain words"
    assert "# Title" in extract_text(b"# Title\nbody", "README.md")
    html = b"<html><head><title>T</title><script>var x=1</script></head><body><p>Hello</p><p>World</p></body></html>"
    assert extract_text(html, "page.html") == "Hello\nWorld"
    assert "def main" in extract_text(b"def main():\n    pass\n", "tool.py")
    assert "Quarterly revenue grew" in extract_text(minimal_pdf("Quarterly revenue grew 12 percent"), "report.pdf")


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "image.png", "unsupported_file"),
        (b"\x00\x01\x02\x03 binary blob", "blob.dat", "unsupported_file"),
        (b"\xff\xfe\xfa not utf-8", "latin.txt", "unsupported_file"),
        (b"   \n\t ", "empty.txt", "invalid_file"),
        (b"%PDF-1.4 truncated garbage", "broken.pdf", "invalid_file"),
    ],
)
def test_unindexable_files_are_refused_with_a_reason(data: bytes, name: str, code: str) -> None:
    with pytest.raises(UnsupportedFile) as caught:
        extract_text(data, name)
    assert caught.value.code == code
    assert name in str(caught.value)


def test_auto_chunking_is_800_tokens_with_400_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    chunks = chunk_text(text)
    assert [count_tokens(c) for c in chunks] == [800, 800, 800, 800]
    assert chunks[1].split()[0] == "w400"  # each chunk starts 400 tokens after the previous one
    assert chunks[-1].endswith("w1999")


def test_static_chunking_and_its_limits() -> None:
    strategy = ChunkingStrategy.from_api(
        {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
    )
    chunks = chunk_text(" ".join(str(i) for i in range(250)), strategy)
    assert [count_tokens(c) for c in chunks] == [100, 100, 50]
    assert strategy.to_api() == {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
    for bad in (
        {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0},
        {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150},
    ):
        with pytest.raises(ValueError):
            ChunkingStrategy.from_api({"type": "static", "static": bad})


def test_file_search_ranks_the_right_file_and_applies_filters() -> None:
    chunks = (
        chunk_document("file-a", "paris.txt", "Paris is the capital of France.", attributes={"lang": "en"})
        + chunk_document("file-b", "berlin.txt", "Berlin is the capital of Germany.", attributes={"lang": "de"})
        + chunk_document("file-c", "cats.txt", "Cats sleep most of the day.", attributes={"lang": "en"})
    )
    index = FileSearchIndex(chunks)
    results = index.search("What is the capital of Germany?")
    assert [r.file_id for r in results] == ["file-b", "file-a"]
    assert 0 < results[1].score < results[0].score < 1
    filtered = index.search("capital", filters={"type": "eq", "key": "lang", "value": "en"})
    assert [r.file_id for r in filtered] == ["file-a"]
    compound = {
        "type": "or",
        "filters": [{"type": "eq", "key": "lang", "value": "de"}, {"type": "in", "key": "lang", "value": ["fr"]}],
    }
    assert [r.file_id for r in index.search("capital", filters=compound)] == ["file-b"]
    assert index.search("zebra unicorn") == []
    assert FileSearchIndex([]).search("anything") == []


def test_page_corpus_keeps_real_urls_and_filters_domains(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<html><head><title>Pathlib</title><link rel="canonical" '
        'href="https://docs.python.org/3/library/pathlib.html"></head>'
        "<body><p>Path objects glob files.</p></body></html>"
    )
    (tmp_path / "b.md").write_text("---\nurl: https://example.org/asyncio\n---\n# Asyncio\nEvent loops run tasks.\n")
    (tmp_path / "c.md").write_text("# Local\nFiles glob nothing here.\n")
    corpus = PageCorpus(tmp_path)
    results = corpus.search("glob files")
    assert results[0].url == "https://docs.python.org/3/library/pathlib.html"
    assert results[0].title == "Pathlib"
    assert any(r.url.startswith("file://") for r in results)
    assert corpus.search("event loops tasks")[0].url == "https://example.org/asyncio"
    only = corpus.search("glob files", allowed_domains=["python.org"])
    assert [r.url for r in only] == ["https://docs.python.org/3/library/pathlib.html"]


def test_question_words_rank_nothing_and_a_page_is_one_result(tmp_path: Path) -> None:
    (tmp_path / "how.md").write_text("---\nurl: https://example.org/how\n---\n# How\nHow do I? What do I do? How!\n")
    (tmp_path / "read.md").write_text(
        "---\nurl: https://example.org/files#read\n---\n# Files\n"
        "Read a file line by line with a for loop over the file.\n"
    )
    (tmp_path / "write.md").write_text(
        "---\nurl: https://example.org/files#write\n---\n# Files\nWrite a file line by line.\n"
    )
    results = PageCorpus(tmp_path).search("How do I read a file line by line?")
    assert [result.url for result in results] == ["https://example.org/files#read"]  # same page as #write


def test_no_provider_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="No web search provider is configured"):
        NoWebSearchProvider().search("anything")
    with pytest.raises(ToolError, match="does not exist"):
        PageCorpus(tmp_path / "missing").search("anything")


def test_python_docs_map_to_docs_python_org(tmp_path: Path) -> None:
    root = tmp_path / "python3.12-doc" / "html"
    (root / "library").mkdir(parents=True)
    (root / "library" / "zlib.html").write_text("<title>zlib — Compression</title><p>zlib compress decompress</p>")
    (root / "genindex-Z.html").write_text("<p>zlib compress decompress zlib zlib</p>")  # generated index: skipped
    corpus = python_docs_corpus(root)
    assert corpus is not None
    assert [r.url for r in corpus.search("zlib compress")] == ["https://docs.python.org/3.12/library/zlib.html"]
    assert python_docs_corpus(tmp_path / "nowhere") is None
