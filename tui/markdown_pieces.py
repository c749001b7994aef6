"""Where a long Markdown answer is cut into pieces that render on their own.

Textual's Markdown re-parses and re-renders the last block of a document on every append, so one long block (a
paragraph of numbers, a long list, one big code fence, a table) costs more with every delta: the app fell
quadratically behind a long stream (issue 21). The answer widget therefore shows a long answer as pieces of about
`PIECE_CHARS` characters: a piece that is finished is never parsed again, and only the last piece grows.

A piece also ends after about `PIECE_LINES` lines. A cut is placed by the text before it (and the line after it)
only, so the cuts found while the answer streams are the cuts found in the whole text afterwards: a reopened thread
shows the same pieces as the live answer did. A cut inside a code fence closes the fence in the piece and opens it
again in the next; a cut inside a table repeats the table's header in the next piece; a cut inside a long line of
plain text falls between two words. A short answer is one piece, rendered exactly as one Markdown document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PIECE_CHARS = 600
# Lines matter too: Textual renders each list item (and each table row) as widgets of its own, and the last
# piece's last block is built again on each append.
PIECE_LINES = 12

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_TABLE_SEPARATOR = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*")
_SETEXT_UNDERLINE = re.compile(r" {0,3}(=+|-+)\s*")
_IN_LINE_TRIES = 8
_LIST_MARKER = re.compile(r"\d+[.)](\s|$)")


@dataclass(frozen=True)
class Context:
    """What a piece starting here must repeat to render as it would inside the whole text."""

    fence: str = ""  # the opening line of the code fence the piece starts inside
    table: str = ""  # the header and separator lines of the table the piece starts inside

    @property
    def reopen(self) -> str:
        return self.fence or self.table


@dataclass(frozen=True)
class Cut:
    """The end of a piece: `end` is where the next piece starts in the text."""

    end: int
    close: str  # added at the end of the piece (the fence's closing line)
    joined: bool  # the piece ends inside a block that the next piece continues
    after: Context  # the context of the next piece


def next_cut(text: str, start: int, context: Context, *, final: bool) -> Cut | None:
    """The first cut at least `PIECE_CHARS` or `PIECE_LINES` after `start`, or None. While the text still
    streams (`final` false) only what cannot change is used: complete lines, and the word after a cut inside a
    line."""
    if len(text) - start < PIECE_CHARS and text.count("\n", start) < PIECE_LINES:
        return None
    fence, table = context.fence, context.table
    position = start
    previous = ""
    lines = 0
    while position < len(text):
        newline = text.find("\n", position)
        if newline == -1:  # the last line: only a cut between two of its words
            return _cut_in_line(text, start, position, fence or table, final=final)
        line = text[position : newline + 1]
        end = newline + 1
        following = _line_at(text, end, final)
        lines += 1
        long_enough = (end - start >= PIECE_CHARS or lines >= PIECE_LINES) and end < len(text)
        if fence:
            if _closes(line, fence):
                fence = ""
                if long_enough:
                    return Cut(end, "", joined=False, after=Context())
            elif long_enough and following is not None and not _closes(following, fence):
                marker = _FENCE.match(fence)
                assert marker is not None
                return Cut(end, marker.group(1) + "\n", joined=True, after=Context(fence=fence))
        elif table:
            if line.strip() and "|" in line:
                if long_enough and following is not None and following.strip() and "|" in following:
                    return Cut(end, "", joined=True, after=Context(table=table))
            else:
                table = ""
                if long_enough:
                    return Cut(end, "", joined=line.strip() != "", after=Context())
        elif _FENCE.match(line):
            fence = line
        elif "|" in previous and _TABLE_SEPARATOR.fullmatch(line.rstrip("\n")):
            table = previous + line
        elif long_enough and following is not None and _plain_cut_before(line, following):
            return Cut(end, "", joined=bool(line.strip()), after=Context())
        previous = line
        position = end
    return None


def pieces(text: str, context: Context = Context()) -> list[tuple[str, bool]]:
    """The whole text cut into pieces: each piece's Markdown and whether the next piece continues its block.
    `context`: the text continues a piece cut inside a fence or a table."""
    result: list[tuple[str, bool]] = []
    start = 0
    while (cut := next_cut(text, start, context, final=True)) is not None:
        result.append((context.reopen + text[start : cut.end] + cut.close, cut.joined))
        start, context = cut.end, cut.after
    result.append((context.reopen + text[start:], False))
    return result


def _line_at(text: str, position: int, final: bool) -> str | None:
    """The line starting at `position`, when it is complete (or the text's end, once the text is final)."""
    newline = text.find("\n", position)
    if newline != -1:
        return text[position : newline + 1]
    return text[position:] if final and position < len(text) else None


def _closes(line: str, fence: str) -> bool:
    opener = _FENCE.match(fence)
    closer = _FENCE.match(line)
    assert opener is not None
    return (
        closer is not None
        and closer.group(1)[0] == opener.group(1)[0]
        and len(closer.group(1)) >= len(opener.group(1))
        and not line[closer.end() :].strip()
    )


def _plain_cut_before(line: str, following: str) -> bool:
    """A cut between two lines of plain Markdown: not after a possible table header, not before an indented line
    (a list item's continuation, indented code) or a line that would turn the one before into a heading."""
    return (
        "|" not in line
        and not following[:1].isspace()
        and not (line.strip() and _SETEXT_UNDERLINE.fullmatch(following.rstrip("\n")))
        and not _TABLE_SEPARATOR.fullmatch(following.rstrip("\n"))
    )


def _cut_in_line(text: str, start: int, line_start: int, context: str, *, final: bool) -> Cut | None:
    """A cut between two words of one long line of plain text (such as a paragraph of numbers), where no inline
    markup can be open: the next piece starts a paragraph with the rest of the line. Only the first few places
    are tried, so a line with markup left open costs no more than a short scan."""
    if context or not text[line_start : line_start + 1].isalnum():
        return None
    search_from = max(start + PIECE_CHARS, line_start + 1)
    newline = text.find("\n", line_start)
    line_end = len(text) if newline == -1 else newline
    position = text.find(" ", search_from, line_end)
    for _ in range(_IN_LINE_TRIES):
        if position == -1 or position + 1 >= line_end:
            return None
        end = position + 1
        rest = text[end:line_end]
        word_known = final or " " in rest  # the next word is whole: whether it starts a list item is known
        if word_known and rest[:1].isalnum() and not _LIST_MARKER.match(rest) and _balanced(text[line_start:end]):
            return Cut(end, "", joined=True, after=Context())
        position = text.find(" ", end, line_end)
    return None


def _balanced(head: str) -> bool:
    """No inline markup left open in the line so far (code spans, emphasis, links), and nothing that could make
    the line a table row or HTML."""
    return (
        head.count("`") % 2 == 0
        and head.count("*") % 2 == 0
        and head.count("[") == head.count("]")
        and head.count("(") == head.count(")")
        and not any(character in head for character in "|<\\")
    )
