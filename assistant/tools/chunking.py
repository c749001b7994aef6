"""Splitting text into overlapping chunks of N tokens, as vector stores do before indexing.

OpenAI's `auto` strategy is 800-token chunks with a 400-token overlap; `static` sets both (max 100..4096 tokens,
overlap at most half the chunk). A token here is a word or a single punctuation character (`\\w+|[^\\w\\s]`),
not a BPE token: close enough in size for English prose, and deterministic. Chunks are slices of the original
text (from the first token's start to the last token's end), so quoted results read like the source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")

MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096


@dataclass(frozen=True)
class ChunkingStrategy:
    max_chunk_size_tokens: int = 800
    chunk_overlap_tokens: int = 400

    def __post_init__(self) -> None:
        if not MIN_CHUNK_TOKENS <= self.max_chunk_size_tokens <= MAX_CHUNK_TOKENS:
            raise ValueError(
                f"max_chunk_size_tokens must be between {MIN_CHUNK_TOKENS} and {MAX_CHUNK_TOKENS}, "
                f"got {self.max_chunk_size_tokens}"
            )
        if not 0 <= self.chunk_overlap_tokens <= self.max_chunk_size_tokens // 2:
            raise ValueError(
                "chunk_overlap_tokens must be between 0 and half of max_chunk_size_tokens, "
                f"got {self.chunk_overlap_tokens} for max_chunk_size_tokens {self.max_chunk_size_tokens}"
            )

    @classmethod
    def from_api(cls, value: Mapping[str, Any] | None) -> ChunkingStrategy:
        """From the API's `chunking_strategy` (`{"type": "auto"}` or `{"type": "static", "static": {...}}`)."""
        if value is None or value.get("type") == "auto":
            return cls()
        if value.get("type") != "static" or not isinstance(value.get("static"), Mapping):
            raise ValueError("chunking_strategy must be {'type': 'auto'} or {'type': 'static', 'static': {...}}")
        static = value["static"]
        size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
        if not isinstance(size, int) or not isinstance(overlap, int) or isinstance(size, bool):
            raise ValueError("static chunking needs integer max_chunk_size_tokens and chunk_overlap_tokens")
        return cls(size, overlap)

    def to_api(self) -> dict[str, Any]:
        # The API reports `auto` back as the static sizes it used (recorded: vector_store.file objects).
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_chunk_size_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens,
            },
        }


def chunk_text(text: str, strategy: ChunkingStrategy = ChunkingStrategy()) -> list[str]:
    """The text's chunks in order; every token lands in at least one chunk."""
    spans = [match.span() for match in _TOKEN.finditer(text)]
    if not spans:
        return []
    size = strategy.max_chunk_size_tokens
    step = size - strategy.chunk_overlap_tokens
    chunks = []
    for first in range(0, len(spans), step):
        last = min(first + size, len(spans)) - 1
        chunks.append(text[spans[first][0] : spans[last][1]])
        if last == len(spans) - 1:
            break
    return chunks


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))
