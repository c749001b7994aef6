"""Hosted tools for engines that cannot choose tools themselves: clear routing rules, and answers that quote
tool results. The reference engine answers with these quotes alone; the llama engine lets its model write the
answer from the same quotes (in its prompt) and then appends them, so the citations always point at real text.

Routing (only among the hosted tools the request offers, and never with `tool_choice: "none"`):

1. `tool_choice` naming a tool (`{"type": "file_search"}`, `{"type": "code_interpreter"}`,
   `{"type": "web_search_preview"}`) uses that tool; `allowed_tools` narrows the choice.
2. A fenced ```python block runs exactly that code; inline `code(...)` in backticks runs that code; arithmetic
   ("what is 17*23?") runs `print(17*23)`; a plot/chart/PNG request runs code that draws one -> code interpreter.
3. A question while file_search has vector stores -> file search with the question as the query.
4. "search", "latest", "look up" or a URL -> web search.
5. With web search offered, a question -> web search (as a model with the tool would search), and with web search
   the only tool, any message does; never small talk ("hello", "thanks"), nor a message that names one of the
   request's function tools (`function_rules.py` calls those).
6. `tool_choice: "required"` with no rule matched -> the first offered tool.

Answers: once the prompt holds a tool call after the last user message, the engine answers from it and cites:
`file_citation` after each quoted passage, `url_citation` over each `[title](url)` link, and
`container_file_citation` over each `[name](sandbox:/mnt/data/name)` link to a file the code wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ..items import item_text
from .engine import GenerationRequest, ToolCall
from .function_rules import function_tools, matches

WEB_SEARCH_TYPES = ("web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11")
TOOL_RESULT_TYPES = ("file_search_call", "web_search_call", "code_interpreter_call")
HostedKind: TypeAlias = Literal["file_search", "code_interpreter", "web_search"]
_ORDER: tuple[HostedKind, ...] = ("file_search", "code_interpreter", "web_search")

_FENCED_PYTHON = re.compile(r"```(?:python|py)[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_INLINE_CODE = re.compile(r"`([^`\n]*\w\([^`\n]*\))`")
_ARITHMETIC = re.compile(
    r"(?<![\w.])(\(?\s*-?\d+(?:\.\d+)?(?:\s*(?:\*\*|[-+*/%^\N{MULTIPLICATION SIGN}])\s*\(?\s*-?\d+(?:\.\d+)?\s*\)?)+)"
)
_PLOT = re.compile(r"\b(plot|chart|graph|png|draw|figure)\b", re.IGNORECASE)
_PLOT_FUNCTION = re.compile(r"y\s*=\s*([-+*/^ x\d.()]+?)(?=\s*(?:for|from|over|between|,|$|\.\s))", re.IGNORECASE)
_WEB = re.compile(r"\b(search|latest|look up|lookup|news|on the web|online)\b|https?://", re.IGNORECASE)
_QUESTION = re.compile(
    r"\?|^\s*(who|what|when|where|why|how|which|is|are|does|do|can|tell me|explain|summari[sz]e|"
    r"describe|find|list|according)\b",
    re.IGNORECASE,
)
# A greeting or thanks on its own (no question in it): nothing to search for.
_SMALL_TALK = re.compile(
    r"^\W*(hi|hello|hey|hiya|thanks|thank you|thx|cheers|ok|okay|bye|goodbye|good (morning|"
    r"afternoon|evening|night))\b[^?]*$",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+")
_STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "what",
        "who",
        "which",
        "how",
        "why",
        "when",
        "where",
        "does",
        "do",
        "did",
        "with",
        "about",
        "from",
        "by",
        "at",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "me",
        "my",
        "tell",
        "please",
    ]
)


@dataclass(frozen=True)
class Segment:
    """A piece of the answer, and the citation that follows it (indexes are filled in by `cite`)."""

    text: str
    annotation: Mapping[str, Any] | None = None


# -- routing ------------------------------------------------------------------------------------------------------


def route(request: GenerationRequest) -> ToolCall | None:
    """The hosted tool call this request calls for, or None to answer directly."""
    if latest_tool_results(request.input_items):
        return None
    offered = _offered_tools(request.options.tools)
    choice = request.options.tool_choice
    required = choice == "required"
    if isinstance(choice, Mapping) and choice.get("type") == "allowed_tools":
        allowed = {_kind(tool) for tool in choice.get("tools") or [] if isinstance(tool, Mapping)}
        offered = [kind for kind in offered if kind in allowed]
        required = choice.get("mode") == "required"
    if choice == "none" or not offered:
        return None
    text = latest_user_text(request.input_items)
    forced = _kind(choice) if isinstance(choice, Mapping) else None
    if forced in offered:
        return _call(forced, text, _code_for(text) or f"print({text!r})")
    code = _code_for(text)
    if code and "code_interpreter" in offered:
        return _call("code_interpreter", text, code)
    if "file_search" in offered and _QUESTION.search(text):
        return _call("file_search", text, None)
    if "web_search" in offered and (_WEB.search(text) or _asks_the_web(text, offered, request)):
        return _call("web_search", text, None)
    if required:
        kind = offered[0]
        return _call(kind, text, code or f"print({text!r})")
    return None


def _asks_the_web(text: str, offered: Sequence[str], request: GenerationRequest) -> bool:
    if not text.strip() or _SMALL_TALK.search(text):
        return False
    functions = function_tools(request)
    if any(matches(tool, text) for tool in functions):
        return False
    only_web_search = list(offered) == ["web_search"] and not functions
    return only_web_search or bool(_QUESTION.search(text))


def _offered_tools(tools: Sequence[Mapping[str, Any]]) -> list[HostedKind]:
    kinds: set[HostedKind] = set()
    for tool in tools:
        kind = _kind(tool)
        if kind == "file_search" and not tool.get("vector_store_ids"):
            continue  # no attached files: nothing to search
        if kind:
            kinds.add(kind)
    return [kind for kind in _ORDER if kind in kinds]


def _kind(tool: Mapping[str, Any]) -> HostedKind | None:
    kind = tool.get("type")
    if kind in WEB_SEARCH_TYPES:
        return "web_search"
    if kind == "file_search":
        return "file_search"
    if kind == "code_interpreter":
        return "code_interpreter"
    return None


def _call(kind: HostedKind, text: str, code: str | None) -> ToolCall:
    arguments: dict[str, str | list[str] | None]
    if kind == "code_interpreter":
        arguments = {"code": code}
    elif kind == "file_search":
        arguments = {"queries": [text]}
    else:
        arguments = {"query": text}
    return ToolCall(kind=kind, name=kind, arguments=json.dumps(arguments))


def _code_for(text: str) -> str | None:
    if match := _FENCED_PYTHON.search(text):
        return match.group(1)
    if match := _INLINE_CODE.search(text):
        return match.group(1)
    if _PLOT.search(text):
        function = _PLOT_FUNCTION.search(text)
        return plot_code(_python_expression(function.group(1)) if function else "x ** 2")
    if match := _ARITHMETIC.search(text):
        return f"print({_python_expression(match.group(1))})"
    return None


def _python_expression(expression: str) -> str:
    return expression.replace("^", "**").replace("\N{MULTIPLICATION SIGN}", "*").strip()


def plot_code(expression: str) -> str:
    """Code that plots y = expression over -5..5 into plot.png: with matplotlib when the sandbox has it, else
    with a tiny PNG writer, so a plot request works on a bare Python too."""
    return f"""xs = [-5 + i * 10 / 199 for i in range(200)]
ys = [{expression} for x in xs]
try:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, ys)
    ax.set_title("y = {expression}")
    fig.savefig("plot.png")
    plt.close(fig)
except ImportError:
    import struct, zlib
    width, height = 240, 180
    low, high = min(ys), max(ys)
    rows = [[255] * width for _ in range(height)]
    for i, y in enumerate(ys):
        px = 20 + i * (width - 40) // (len(xs) - 1)
        py = height - 21 - int((y - low) / ((high - low) or 1) * (height - 41))
        for dy in (-1, 0, 1):
            rows[py + dy][px] = 0
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\\x00" + bytes(row) for row in rows)
    with open("plot.png", "wb") as file:
        file.write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                   + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
print("Saved plot.png: y = {expression} for x from -5 to 5")
"""


# -- answering from tool results ----------------------------------------------------------------------------------


def latest_tool_results(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Tool call items after the last user message: what this turn's tools returned."""
    results: list[Mapping[str, Any]] = []
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            break
        if item.get("type") in TOOL_RESULT_TYPES:
            results.append(item)
    return list(reversed(results))


def answer_from_tools(items: Sequence[Mapping[str, Any]], start: int = 0) -> list[Segment]:
    """The quoted results of this turn's tools, cited; `start` is where they begin in the message text."""
    question = latest_user_text(items)
    segments: list[Segment] = []
    for result in latest_tool_results(items):
        if segments:
            segments.append(Segment("\n\n"))
        segments += quote_tool_result(result, question)
    return cite(segments, start)


def quote_tool_result(result: Mapping[str, Any], question: str) -> list[Segment]:
    """What one tool call item returned, quoted, with uncited annotations (see `cite`)."""
    if result["type"] == "file_search_call":
        return _file_search_answer(result, question)
    if result["type"] == "web_search_call":
        return _web_search_answer(result)
    return _code_answer(result)


def cite(segments: list[Segment], start: int = 0) -> list[Segment]:
    """Fill in each annotation's character positions from the segments' texts, the first starting at `start`."""
    cited = []
    offset = start
    for segment in segments:
        annotation = segment.annotation
        if annotation is not None:
            annotation = dict(annotation)
            if annotation["type"] == "file_citation":
                annotation["index"] = offset + len(segment.text)
            else:
                link = re.search(r"\[[^\]]*\]\([^)]*\)", segment.text)
                start, end = link.span() if link else (0, len(segment.text))
                annotation["start_index"], annotation["end_index"] = offset + start, offset + end
        cited.append(Segment(segment.text, annotation))
        offset += len(segment.text)
    return cited


# Tool results reach the rules from clients too (replayed items, outputs of hosted tools offered as functions):
# entries of the wrong shape are skipped, so a bad one costs a quote, never the response.


def _objects(value: Any, *strings: str) -> list[Mapping[str, Any]]:
    """The objects in `value` (a list) whose fields `strings` are all strings."""
    if not isinstance(value, list):
        return []
    return [
        entry
        for entry in value
        if isinstance(entry, Mapping) and all(isinstance(entry.get(key), str) for key in strings)
    ]


def _string(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _file_search_answer(result: Mapping[str, Any], question: str) -> list[Segment]:
    hits = _objects(result.get("results"), "file_id", "text")
    if not hits:
        return [Segment("I found nothing about that in the attached files.")]
    segments = [Segment("From the attached files:")]
    seen: set[str] = set()
    for hit in hits:
        if hit["file_id"] in seen or len(seen) == 3:
            continue
        seen.add(hit["file_id"])
        quote = _best_sentence(hit["text"], question)
        filename = _string(hit.get("filename"), hit["file_id"])
        # The citation goes right after the quote, as recorded answers place it (before the closing words).
        segments.append(
            Segment(f'\n- "{quote}"', {"type": "file_citation", "file_id": hit["file_id"], "filename": filename})
        )
        segments.append(Segment(f" ({filename})"))
    return segments


def _web_search_answer(result: Mapping[str, Any]) -> list[Segment]:
    if result.get("status") == "failed":
        return [Segment(f"Web search failed: {result.get('error') or 'the search did not complete.'}")]
    pages = _objects(result.get("results"), "url")
    action = result.get("action")
    query = _string(action.get("query")) if isinstance(action, Mapping) else ""
    if not pages:
        return [Segment(f'The web search for "{query}" found no pages.')]
    segments = [Segment(f'Here is what the web search for "{query}" found:')]
    for page in pages:
        title = _string(page.get("title"), page["url"])
        link_text = title.replace("[", "(").replace("]", ")")
        segments.append(
            Segment(
                f"\n- {_string(page.get('snippet'))} ([{link_text}]({page['url']}))",
                {"type": "url_citation", "url": page["url"], "title": title},
            )
        )
    return segments


def _code_answer(result: Mapping[str, Any]) -> list[Segment]:
    logs = "\n".join(
        output["logs"] for output in _objects(result.get("outputs"), "logs") if output.get("type") == "logs"
    )
    error = result.get("error")
    if error:
        logs = logs.replace(f"[error] {error}", "").strip()
    segments = []
    if error:
        segments.append(Segment(f"The code could not finish: {error}"))
        if logs:
            segments.append(Segment(f"\nIts output before that:\n{_tail(logs)}"))
    elif logs.strip():
        segments.append(Segment(f"The code printed:\n{_tail(logs.strip())}"))
    else:
        segments.append(Segment("The code ran without printing anything."))
    for file in _objects(result.get("files"), "file_id", "filename", "path"):
        segments.append(
            Segment(
                f"\nFile: [{file['filename']}](sandbox:{file['path']})",
                {
                    "type": "container_file_citation",
                    "container_id": result.get("container_id"),
                    "file_id": file["file_id"],
                    "filename": file["filename"],
                },
            )
        )
    return segments


def _best_sentence(text: str, question: str) -> str:
    """The sentence sharing the most of the question's words, a word counting less the more sentences hold it:
    asked "What is the budget of the Falcon project?", a plan's "The budget is 2.4 million euros." beats its
    title "# Falcon project plan" (Falcon and project are in many of its sentences; budget in one). Headings
    state no facts: they are quoted only when nothing else is there."""
    terms = {_stem(word) for word in _WORDS.findall(question.lower()) if word not in _STOPWORDS}
    lines = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
    sentences = [line for line in lines if not line.startswith("#")] or lines
    if not sentences:
        return text.strip()[:300]
    words = [{_stem(word) for word in _WORDS.findall(sentence.lower())} for sentence in sentences]
    holding = {term: sum(term in each for each in words) for term in terms}
    scores = [sum(1 / holding[term] for term in terms & each) for each in words]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -len(sentences[i])))
    sentence = sentences[best]
    return sentence if len(sentence) <= 300 else sentence[:297] + "..."


def _stem(word: str) -> str:
    """ "launches", "launched", "launching" -> "launch": enough for a question's words to meet the text's."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _tail(logs: str, limit: int = 2000) -> str:
    return logs if len(logs) <= limit else "..." + logs[-limit:]


def latest_user_text(items: Sequence[Mapping[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            return item_text(item)
    return ""
