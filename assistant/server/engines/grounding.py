"""Keeping a small model's prose true to what a tool returned.

After a hosted tool or a function ran, the llama engine's model writes a short answer with the tool's result in
its prompt, and the engine then appends the result itself, quoted (`tool_rules.answer_from_tools`,
`function_rules.answer_from_functions`). A 135M model still invents: "print(17*23) printed: 456" right above the
quoted 391. So its prose is checked a sentence at a time, as it streams:

- a sentence stating a number the tool output (or the question) does not contain is dropped;
- so is one quoting ("...", `...`) text the tool output (or the question) does not contain;
- so is one that imitates the engine's own quote lines ("The code printed: ..."): the real quote follows;
- so is a fenced code block: code the model made up, where the code that really ran is quoted.

Later turns of the conversation are checked too, more lightly (`about_tools_only`): asked "Thanks!" after a code
turn that printed 391, the model wrote "The Python code `print(17*23)` will print 480." A sentence that speaks
of a tool's result (code, output, file, search ...) must agree with the whole conversation the model read;
other sentences, and code it is asked to write, pass.

And the engine's quote lines are its words, not the model's: `without_quotes` removes them from the model's
earlier answers before they go back into its prompt, so that it does not learn to write them itself (it did:
"The code printed: Falcon-LaunchDate = 14/3/2026" on a turn where no code ran).
"""

from __future__ import annotations

import re

# How the engine's quotes begin (tool_rules.py and function_rules.py word them; a test checks every quote they
# make starts with one of these).
QUOTE_OPENERS = (
    "The code printed:",
    "The code could not finish:",
    "The code ran without printing anything.",
    "From the attached files:",
    "I found nothing about that in the attached files.",
    "Here is what the web search for",
    "The web search for",
    "Web search failed:",
    "Here is what the functions returned:",
)
_QUOTE_LINE = re.compile(r"(?:^|\n\n)(?:" + "|".join(re.escape(opener) for opener in QUOTE_OPENERS) + ")")
# An imitation: the opener's words anywhere in a sentence ("The Python code printed: 456").
_IMITATION = re.compile(
    r"\b(?:code|program|script)\b[^.!?\n]{0,40}\b(?:printed|output(?:s|ted)?|returned)\s*:|"
    r"from the attached files\s*:|what the (?:web )?search[^.!?\n]{0,60}found\s*:|"
    r"what the functions returned\s*:",
    re.IGNORECASE,
)
# A sentence ends at . ! ? followed by a space or the end, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+|\n+")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,/:]\d+)*(?![\w])")
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*])\s+")
_QUOTED = re.compile(r"\"([^\"\n]{3,})\"|“([^”\n]{3,})”|`([^`\n]{2,})`")
_SPACE = re.compile(r"\s+")
# A sentence about what a tool did or returned.
_ABOUT_TOOLS = re.compile(
    r"\b(code|print|prints|printed|output|outputs|result|results|returned|returns|ran|file|"
    r"files|document|search|searched|found|page|pages|function)\b",
    re.IGNORECASE,
)


def without_quotes(answer: str) -> str:
    """An earlier answer as the model wrote it: the engine's quotes (from the first quote line on) removed."""
    match = _QUOTE_LINE.search(answer)
    return answer if match is None else answer[: match.start()].rstrip()


def numbers_in(text: str) -> set[str]:
    """The numbers in `text`, as written but without thousands separators ("1,234" -> "1234"; "3.50" stays)."""
    return {_plain_number(number) for number in _NUMBER.findall(text)}


def _plain_number(number: str) -> str:
    return number.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", number) else number


def supported(sentence: str, evidence: str) -> bool:
    """Whether `sentence` states only numbers and quotes found in `evidence` (the tool output and the question),
    and does not pose as one of the engine's quote lines."""
    if _IMITATION.search(sentence):
        return False
    body = _LIST_MARKER.sub("", sentence)
    known = numbers_in(evidence)
    if any(number not in known for number in numbers_in(body)):
        return False
    flat = _flat(evidence)
    for groups in _QUOTED.findall(body):
        quoted = next(group for group in groups if group)
        if _flat(quoted) not in flat:
            return False
    return True


def _flat(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


class GroundedProse:
    """The model's prose, let through a whole sentence at a time once it is `supported` by `evidence`.

    `feed` takes each decoded piece and returns the text that may be shown now; `finish` returns the rest.
    With `about_tools_only` (a later turn: `evidence` is the whole conversation), only sentences about a tool's
    result are checked, and code blocks pass."""

    def __init__(self, evidence: str, *, about_tools_only: bool = False) -> None:
        self.evidence = evidence
        self.about_tools_only = about_tools_only
        self.pending = ""
        self.separator = ""  # after the last kept sentence: shown only if another sentence is kept
        self.in_code = False  # inside a fenced code block of the model's
        self.kept: list[str] = []
        self.dropped: list[str] = []

    def feed(self, piece: str) -> str:
        self.pending += piece
        shown = []
        while (end := _SENTENCE_END.search(self.pending)) is not None:
            sentence, separator = self.pending[: end.start()], end.group()
            self.pending = self.pending[end.end() :]
            shown.append(self._checked(sentence, separator))
        return "".join(shown)

    def finish(self) -> str:
        sentence, self.pending = self.pending, ""
        return self._checked(sentence, "")

    def _checked(self, sentence: str, separator: str) -> str:
        """The sentence, after the separator of the kept one before it (a dropped sentence leaves no gap)."""
        if not sentence.strip():
            self.separator += separator
            return ""
        fence = sentence.lstrip().startswith("```")
        code = fence or self.in_code
        self.in_code ^= fence
        if code and not self.about_tools_only:
            self.dropped.append(sentence)
            return ""
        checked = not code and (
            not self.about_tools_only or _ABOUT_TOOLS.search(sentence) or _IMITATION.search(sentence)
        )
        if checked and not supported(sentence, self.evidence):
            self.dropped.append(sentence)
            return ""
        shown = (self.separator if self.kept else sentence[: len(sentence) - len(sentence.lstrip())]) + sentence.strip()
        self.kept.append(sentence)
        self.separator = separator
        return shown

    @property
    def text(self) -> str:
        return " ".join(sentence.strip() for sentence in self.kept)


def filter_prose(prose: str, evidence: str) -> str:
    """`prose` without its unsupported sentences (the whole text at once; see GroundedProse)."""
    grounded = GroundedProse(evidence)
    return (grounded.feed(prose) + grounded.finish()).strip()
