"""What a full-text search looks for, and the snippet a hit shows: both bounded, whatever the input.

- The query becomes its distinct words (case ignored), at most MAX_TERMS of them, each at most MAX_TERM_CHARS
  long, read from at most its first MAX_QUERY_CHARS characters. A word repeated 20,000 times is one term
  (as a phrase each, FTS5 once took 23 GB to make a snippet for it), and what the caps leave out is said in
  `SearchQuery.note`.
- The snippet is made here, not by FTS5's snippet() or PostgreSQL's ts_headline: both read the whole turn, and
  FTS5's compares every match with every other (two minutes for a common word in a 10 MB paste). This one looks
  at a bounded text (a turn's sides, or the preview of a long side: migrations.m009), finds the first word
  that starts like a query word, and shows SNIPPET_WORDS words around it with the matches in [ ].
- SearchStore runs the query on the index: FTS5 on SQLite, PostgreSQL's own text search there (migrations.m002).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.index.database import Connection
from assistant.index.records import SearchHit

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


# Newest matching turns first. Ranking by bm25 instead costs a pass over every match of every word (FTS5
# counts document frequencies per query): 0.5 s for common words at 1M turns, against 1-2 ms this way
# (bench/index_scale.py). For a memory of one's own conversations, recent is the better default anyway.
# A hit's text and time come from its preview when the turn has a long side (migrations.m009), so that a hit
# never reads a 10 MB paste; the snippet is made from them (snippet, above). CASE reads only the branch it takes.
_HIT_TEXT = """CASE WHEN turn_previews.turn_id IS NULL THEN {turns}.input_text ELSE turn_previews.input_text END
                   AS input,
               CASE WHEN turn_previews.turn_id IS NULL THEN {turns}.output_text ELSE turn_previews.output_text END
                   AS output,
               CASE WHEN turn_previews.turn_id IS NULL THEN {turns}.created_at ELSE turn_previews.created_at END
                   AS created_at"""
SEARCH = f"""SELECT turns.thread_id, threads.title AS thread_title, turns.id AS turn_id, turns.seq,
                    {_HIT_TEXT.format(turns="turns")}
             FROM turns_fts
             JOIN turns ON turns.id = turns_fts.rowid
             JOIN threads ON threads.id = turns.thread_id
             LEFT JOIN turn_previews ON turn_previews.turn_id = turns.id
             WHERE turns_fts MATCH :match
             ORDER BY turns_fts.rowid DESC
             LIMIT :limit"""
# The same on PostgreSQL, through its own text search (migrations.m002): every word, stemmed, newest first.
SEARCH_POSTGRES = f"""SELECT hits.thread_id, threads.title AS thread_title, hits.id AS turn_id, hits.seq,
                             {_HIT_TEXT.format(turns="hits")}
                      FROM (SELECT id, thread_id, seq, input_text, output_text, created_at FROM turns
                            WHERE search_vector @@ plainto_tsquery('assistant_fts', :match)
                            ORDER BY id DESC
                            LIMIT :limit) AS hits
                      JOIN threads ON threads.id = hits.thread_id
                      LEFT JOIN turn_previews ON turn_previews.turn_id = hits.id
                      ORDER BY hits.id DESC"""


class SearchStore:
    connection: Connection  # the facade's (store.py)

    def search(self, text_query: str, *, limit: int = 20) -> list[SearchHit]:
        """The newest turns holding every word of the query (search_query says how a query is read: at most
        16 distinct words, for one)."""
        query = search_query(text_query)
        if self.connection.dialect == "postgresql":
            sql, match = SEARCH_POSTGRES, query.plain()
        else:
            sql, match = SEARCH, query.fts5()
        if match is None:
            return []
        return [
            SearchHit(
                thread_id=row["thread_id"],
                thread_title=row["thread_title"],
                turn_id=row["turn_id"],
                seq=row["seq"],
                snippet=snippet((row["input"], row["output"]), query.terms),
                input=row["input"],
                created_at=row["created_at"],
            )
            for row in self.connection.rows(sql, {"match": match, "limit": limit})
        ]
