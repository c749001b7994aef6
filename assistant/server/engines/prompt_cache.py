"""Which part of a prompt an earlier request already sent: the real API's prompt-caching rule, honestly applied.

OpenAI caches prompt prefixes in 128-token blocks once a prompt reaches 1024 tokens, and reports the cached part
as `usage.input_tokens_details.cached_tokens`. This cache remembers a hash of every 128-token block boundary of
every prompt it has seen (from 1024 tokens on) and reports the longest such prefix of a new prompt. Nothing is
invented: a token counts as cached only if an earlier request really sent the identical prefix.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

MIN_CACHED_PREFIX = 1024
BLOCK = 128


class PromptCache:
    def __init__(self, max_entries: int = 100_000) -> None:
        self._prefixes: dict[str, None] = {}  # insertion-ordered, so the oldest are evicted first
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def lookup_and_store(self, tokens: Sequence[str]) -> int:
        """Cached tokens for this prompt; then remember its prefixes for later requests."""
        boundaries = _prefix_hashes(tokens)
        with self._lock:
            cached = 0
            for length, digest in boundaries:
                if digest in self._prefixes:
                    cached = length
            for _, digest in boundaries:
                self._prefixes.pop(digest, None)
                self._prefixes[digest] = None
            while len(self._prefixes) > self._max_entries:
                self._prefixes.pop(next(iter(self._prefixes)))
        return cached


def _prefix_hashes(tokens: Sequence[str]) -> list[tuple[int, str]]:
    hasher = hashlib.sha256()
    hashes: list[tuple[int, str]] = []
    for position, token in enumerate(tokens, start=1):
        hasher.update(token.encode())
        hasher.update(b"\x00")
        if position >= MIN_CACHED_PREFIX and position % BLOCK == 0:
            hashes.append((position, hasher.copy().hexdigest()))
    return hashes
