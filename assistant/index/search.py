"""What a full-text search looks for, and the snippet a hit shows: both bounded, whatever the input.

- The query becomes its distinct words (case ignored), at most MAX_TERMS of them, each at most MAX_TERM_CHARS
  long, read from at most its first MAX_QUERY_CHARS characters. A word repeated 20,000 times is one term
  (as a phrase each, FTS5 once took 23 GB to make a snippet for it), and what the caps leave out is said in
  `SearchQuery.note`.
- The snippet is made here, not by FTS5's snippet() or PostgreSQL's ts_headline: both read the whole turn, and
  FTS5's compares every match with every other (two minutes for a common word in a 10 MB paste). This one looks
  at a bounded text (a turn's sides, or the preview of a long side: migrations.m009), finds the first word
  that starts like a query word, and shows SNIPPET_WORDS words around it with the matches in [ ].
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_TERMS = 16
MAX_TERM_CHARS = 64
MAX_QUERY_CHARS = 10_000
SNIPPET_WORDS = 12
# How far around a match the snippet's words are looked for: enough for SNIPPET_WORDS ordinary words.
_SNIPPET_REACH_CHARS = 400
# Endings dropped from a query word before matching words of the text, so that "searching" marks "searched"
# and "foxes" marks "fox" (the index itself stems properly; this is only for the marks).
_ENDINGS = ("ing", "ed", "es", "s")

WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    terms: tuple[str, ...]  # distinct words, lower case, in the order given
    note: str | None = None  # what the caps left out, for people; None when nothing was

    def fts5(self) -> str | None:
        """The FTS5 query matching turns that hold every term: each quoted, so operators and stray quotes in
        user input cannot make a syntax error."""
        return " ".join(f'"{term}"' for term in self.terms) or None

    def plain(self) -> str | None:
        """The terms for PostgreSQL's plainto_tsquery (every word, stemmed)."""
        return " ".join(self.terms) or None


def search_query(text: str) -> SearchQuery:
    """The terms to search for in `text`, with a note when the caps left words out."""
    terms: list[str] = []
    seen: set[str] = set()
    too_long = too_many = False
    cut = len(text) > MAX_QUERY_CHARS
    for match in WORD.finditer(text, 0, MAX_QUERY_CHARS):
        if cut and match.end() == MAX_QUERY_CHARS:
            break  # a word the cut may have split
        word = match.group().casefold()
        if word in seen:
            continue
        if len(word) > MAX_TERM_CHARS:
            too_long = True
            continue
        if len(terms) == MAX_TERMS:
            too_many = True
            break
        seen.add(word)
        terms.append(word)
    left_out = [
        reason
        for reason, happened in (
            (f"only its first {MAX_QUERY_CHARS:,} characters were read", cut),
            (f"only its first {MAX_TERMS} different words are searched for", too_many),
            (f"words over {MAX_TERM_CHARS} characters are left out", too_long),
        )
        if happened
    ]
    note = f"The search was shortened: {'; '.join(left_out)}." if left_out else None
    return SearchQuery(tuple(terms), note)


def snippet(sides: Sequence[str], terms: Sequence[str]) -> str:
    """About SNIPPET_WORDS words of the first side that holds a word starting like one of `terms`, around the
    first such word, every such word in [ ], with … where text was cut. Without one (a stem the simple rule
    misses, or a match deep in a long paste, past its preview), the start of the first side with words."""
    marks = _marks(terms)
    for side in sides:
        found = marks.search(side) if marks else None
        if found:
            return _around(side, found.start(), found.end(), marks)
    side = next((side for side in sides if WORD.search(side)), "")
    return _around(side, 0, 0, marks)


def _marks(terms: Sequence[str]) -> re.Pattern[str] | None:
    stems = []
    for term in terms:
        for ending in _ENDINGS:
            if term.endswith(ending) and len(term) - len(ending) >= 3:
                term = term[: -len(ending)]
                break
        stems.append(re.escape(term))
    return re.compile(rf"\b(?:{'|'.join(stems)})\w*", re.IGNORECASE) if stems else None


def _around(text: str, start: int, end: int, marks: re.Pattern[str] | None) -> str:
    """The words of `text` around text[start:end], marked."""
    begin = max(0, start - _SNIPPET_REACH_CHARS)
    stop = min(len(text), end + _SNIPPET_REACH_CHARS)
    words = [match.span() for match in WORD.finditer(text, begin, stop)]
    # A word cut by the reach is not a word of the text: leave it out.
    if words and begin > 0 and words[0][0] == begin and WORD.match(text, begin - 1):
        words.pop(0)
    if words and stop < len(text) and words[-1][1] == stop and WORD.match(text, stop):
        words.pop()
    if not words:
        return ""
    first = next((number for number, (_, word_end) in enumerate(words) if word_end > start), 0)
    low = max(0, min(first - (SNIPPET_WORDS - 1) // 2, len(words) - SNIPPET_WORDS))
    high = min(len(words), low + SNIPPET_WORDS)
    at_start = low == 0 and begin == 0
    at_end = high == len(words) and stop == len(text)
    shown = text[0 if at_start else words[low][0] : len(text) if at_end else words[high - 1][1]]
    if marks:
        shown = marks.sub(lambda match: f"[{match.group()}]", shown)
    return f"{'' if at_start else '…'}{' '.join(shown.split())}{'' if at_end else '…'}"
