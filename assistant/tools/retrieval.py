"""Ranking text chunks against a query with BM25 (the `bm25s` library: sparse matrices, milliseconds per query).

Scores are BM25 scores mapped into [0, 1) by `s / (s + 1)`: the API reports relevance in that range (and
`ranking_options.score_threshold` is a fraction), and the mapping keeps BM25's order. A chunk that shares no
term with the query scores 0 and is never returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
from bm25s.tokenization import Tokenizer


@dataclass(frozen=True)
class SearchHit:
    position: int  # index into the texts the index was built from
    score: float  # in [0, 1)


class ChunkIndex:
    """An immutable BM25 index over a list of texts. Build a new one when the texts change."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self._tokenizer = Tokenizer(stopwords="en")
        self._retriever = bm25s.BM25()
        if texts:
            corpus = self._tokenizer.tokenize(list(texts), return_as="ids", show_progress=False)
            self._retriever.index(corpus, show_progress=False)

    def search(
        self,
        query: str,
        max_results: int = 10,
        *,
        allowed: np.ndarray | None = None,
        score_threshold: float = 0.0,
    ) -> list[SearchHit]:
        """Best hits first. `allowed` is a boolean mask over positions (attribute filters)."""
        if self.size == 0 or max_results <= 0:
            return []
        query_ids = self._tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)[0]
        if not query_ids:
            return []
        scores = self._retriever.get_scores(query_ids)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if candidates.size > max_results:
            top = np.argpartition(-scores[candidates], max_results - 1)[:max_results]
            candidates = candidates[top]
        ranked = sorted(candidates.tolist(), key=lambda position: (-scores[position], position))
        hits = [SearchHit(position, float(scores[position] / (scores[position] + 1.0))) for position in ranked]
        return [hit for hit in hits if hit.score >= score_threshold]
