"""A deterministic stand-in tokenizer for engines without a real one.

A token is a run of word characters or a single other non-space character (`\\w+|[^\\w\\s]`), so "Hello, world!"
is 4 tokens. Real BPE tokenizers split words further, but this is stable, fast and explainable, which is what
token accounting in tests needs.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))
