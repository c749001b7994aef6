"""The deterministic reference engine: answers that expose the server's state, for tests and offline demos.

Its answers depend only on the prompt the server assembled, so a test can prove what the server sent it:

- "what did I say first?"  -> `You first said: "<first user message text>"` (proves history was prepended)
- "how many messages?"      -> the number of user + assistant messages in the prompt
- "what are your instructions?" -> the instructions of this request, or "I have no instructions." (proves
  instructions are per request and never carried over)
- "repeat N words" / "count to N" -> N words ("word1 word2 ..." / "1 2 3 ...") to exceed max_output_tokens
- "a list of N items" / "a code block of N lines" / "a table of N rows" -> long Markdown of that shape (3, 6
  and 7 tokens an item, line or row), for measuring how the app renders long answers (bench/tui_stream.py)
- anything else             -> `Reference reply to: <text>`

With hosted tools in the request it calls them by the rules in `tool_rules.py` (a ```python block runs,
a question over attached files searches them, "search ..." searches the web) and then answers by quoting the
tool results, with citations. With function tools it calls those whose name the message mentions, with
arguments from simple patterns, and answers by quoting their outputs (`function_rules.py`).

Text is streamed one word (with its trailing space) per delta. Tokens come from `tokenizer.tokenize`; the prompt
is the instructions followed by every item's text; cached tokens come from a `PromptCache` shared by all
requests to this engine, with the real API's 1024/128 rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...model_names import REFERENCE_MODEL
from ..items import item_text
from .engine import Annotation, Finish, GenerationRequest, TextDelta, ToolCall, Usage
from .function_rules import answer_from_functions, function_calls
from .hosted_functions import as_function_call, hosted_view
from .prompt_cache import PromptCache
from .tokenizer import count_tokens, tokenize
from .tool_rules import Segment, answer_from_tools, latest_tool_results, route

__all__ = ["REFERENCE_MODEL", "ReferenceEngine"]


_FIRST = re.compile(r"what did i say first")
_HOW_MANY = re.compile(r"how many messages")
_INSTRUCTIONS = re.compile(r"what are your instructions")
_REPEAT = re.compile(r"repeat (\d+) words?")
_COUNT = re.compile(r"count to (\d+)")
_LIST = re.compile(r"a list of (\d+) items?")
_CODE = re.compile(r"a code block of (\d+) lines?")
_TABLE = re.compile(r"a table of (\d+) rows?")
_PIECES = re.compile(r"\s*\S+\s*")  # a word with the spaces around it: the pieces always add up to the text
_MAX_WORDS = 100_000


class ReferenceEngine:
    def __init__(self) -> None:
        self.prompt_cache = PromptCache()

    def generate(self, request: GenerationRequest) -> Iterator[TextDelta | Annotation | ToolCall | Finish]:
        prompt_tokens = tokenize(request.instructions or "")
        for item in request.input_items:
            prompt_tokens.extend(tokenize(item_text(item)))
        cached = self.prompt_cache.lookup_and_store(prompt_tokens)

        # Hosted tools a Chat client offers as functions are routed and answered like hosted ones.
        tools_view = hosted_view(request)
        call = as_function_call(route(tools_view), request)
        # Your function tools, by the rules in `function_rules.py` (one round per clause, parallel calls).
        calls = [call] if call is not None else function_calls(tools_view)
        if calls:
            yield from calls
            yield Finish(
                Usage(
                    input_tokens=len(prompt_tokens),
                    output_tokens=sum(count_tokens(each.arguments) for each in calls),
                    cached_tokens=cached,
                ),
                reason="tool_calls",
            )
            return
        if latest_tool_results(tools_view.input_items):
            segments = answer_from_tools(tools_view.input_items)
        elif (quoted := answer_from_functions(tools_view.input_items)) is not None:
            segments = [Segment(quoted)]
        else:
            segments = [Segment(self.answer(request))]

        limit = request.options.max_output_tokens
        produced = 0
        reason: str = "stop"
        for segment in segments:
            for chunk in _PIECES.findall(segment.text) or ([segment.text] if segment.text else []):
                cost = count_tokens(chunk)
                if limit is not None and produced + cost > limit:
                    reason = "max_output_tokens"
                    break
                produced += cost
                yield TextDelta(chunk)
            if reason == "max_output_tokens":
                break
            if segment.annotation is not None:
                yield Annotation(segment.annotation)
        yield Finish(
            Usage(input_tokens=len(prompt_tokens), output_tokens=produced, cached_tokens=cached),
            reason="max_output_tokens" if reason == "max_output_tokens" else "stop",
        )

    def answer(self, request: GenerationRequest) -> str:
        messages = [item for item in request.input_items if item.get("type") == "message"]
        user_texts = [item_text(item) for item in messages if item.get("role") == "user"]
        latest = user_texts[-1] if user_texts else ""
        question = " ".join(re.sub(r"[^\w\s]", " ", latest.lower()).split())

        if _FIRST.search(question):
            return f'You first said: "{user_texts[0]}"'
        if _HOW_MANY.search(question):
            count = sum(1 for item in messages if item.get("role") in ("user", "assistant"))
            return f"You have sent me {count} messages."
        if _INSTRUCTIONS.search(question):
            if request.instructions:
                return f'My instructions are: "{request.instructions}"'
            return "I have no instructions."
        if match := _REPEAT.search(question):
            return " ".join(f"word{i}" for i in range(1, min(int(match.group(1)), _MAX_WORDS) + 1))
        if match := _COUNT.search(question):
            return " ".join(str(i) for i in range(1, min(int(match.group(1)), _MAX_WORDS) + 1))
        if long_markdown := _long_markdown(question):
            return long_markdown
        return f"Reference reply to: {_quoted(latest)}"


def _long_markdown(question: str) -> str | None:
    """A long answer of one Markdown shape, numbered so that every line differs."""
    if match := _LIST.search(question):
        return "\n".join(f"- item {i}" for i in range(1, min(int(match.group(1)), _MAX_WORDS) + 1))
    if match := _CODE.search(question):
        lines = "\n".join(f"x_{i} = {i}  # line {i}" for i in range(1, min(int(match.group(1)), _MAX_WORDS) + 1))
        return f"```python\n{lines}\n```"
    if match := _TABLE.search(question):
        rows = "\n".join(f"| {i} | {i * i} | word{i} |" for i in range(1, min(int(match.group(1)), _MAX_WORDS) + 1))
        return f"| n | square | word |\n|---:|---:|---|\n{rows}"
    return None


_ECHO_LIMIT = 200


def _quoted(text: str) -> str:
    """The user's text as the reply repeats it: whole when short; a long paste is quoted by its start and its
    size, as any model's answer would be far shorter than a 10 MB question."""
    if len(text) <= _ECHO_LIMIT:
        return text
    return f"{text[:_ECHO_LIMIT]}… ({len(text):,} characters)"
