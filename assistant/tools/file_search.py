"""File search over chunked documents: BM25 ranking plus the API's attribute filters.

Used by the local server's vector stores and by the Chat Completions fallback alike: give it the chunks of
every file to search (`chunk_document` makes them), ask it a query, get scored results naming their file.
Filters are the API's: a comparison `{key, type: eq|ne|gt|gte|lt|lte|in|nin, value}` or a compound
`{type: and|or, filters: [...]}` over each file's `attributes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .chunking import ChunkingStrategy, chunk_text
from .retrieval import ChunkIndex

Attributes = Mapping[str, str | float | bool]


@dataclass(frozen=True)
class DocumentChunk:
    file_id: str
    filename: str
    text: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True)
class FileSearchResult:
    file_id: str
    filename: str
    text: str
    score: float  # in [0, 1)
    attributes: Attributes


def chunk_document(
    file_id: str,
    filename: str,
    text: str,
    strategy: ChunkingStrategy = ChunkingStrategy(),  # noqa: B008 -- frozen dataclass: one shared default is safe
    attributes: Attributes | None = None,
) -> list[DocumentChunk]:
    return [DocumentChunk(file_id, filename, chunk, dict(attributes or {})) for chunk in chunk_text(text, strategy)]


class FileSearchIndex:
    """An immutable index over chunks; build a new one when the files change (it takes milliseconds)."""

    def __init__(self, chunks: Sequence[DocumentChunk]) -> None:
        self.chunks = list(chunks)
        self._index = ChunkIndex([chunk.text for chunk in self.chunks])

    def search(
        self,
        query: str,
        max_results: int = 10,
        *,
        filters: Mapping[str, Any] | None = None,
        score_threshold: float = 0.0,
    ) -> list[FileSearchResult]:
        allowed = None
        if filters:
            allowed = np.array([matches_filter(chunk.attributes, filters) for chunk in self.chunks], dtype=bool)
        hits = self._index.search(query, max_results, allowed=allowed, score_threshold=score_threshold)
        return [
            FileSearchResult(chunk.file_id, chunk.filename, chunk.text, hit.score, chunk.attributes)
            for hit in hits
            for chunk in [self.chunks[hit.position]]
        ]


def matches_filter(attributes: Attributes, condition: Mapping[str, Any]) -> bool:
    kind = condition.get("type")
    if kind in ("and", "or"):
        results = (matches_filter(attributes, inner) for inner in condition.get("filters") or [])
        return all(results) if kind == "and" else any(results)
    key, expected = condition.get("key"), condition.get("value")
    if not isinstance(key, str) or key not in attributes:
        return kind in ("ne", "nin")
    actual = attributes[key]
    # Ordering compares whatever JSON the filter holds: a pair Python cannot order (a string and a number, or a
    # missing value) raises the TypeError below, hence the type: ignore[operator] on each.
    try:
        if kind == "eq":
            return actual == expected
        if kind == "ne":
            return actual != expected
        if kind == "in":
            return actual in (expected or [])
        if kind == "nin":
            return actual not in (expected or [])
        if kind == "gt":
            return actual > expected  # type: ignore[operator]
        if kind == "gte":
            return actual >= expected  # type: ignore[operator]
        if kind == "lt":
            return actual < expected  # type: ignore[operator]
        if kind == "lte":
            return actual <= expected  # type: ignore[operator]
    except TypeError:
        return False  # comparing a string with a number: the condition does not hold
    raise ValueError(f"unknown filter type {kind!r}")
