"""The llama engine: SmolLM2-135M-Instruct running in-process through llama.cpp (`llama-cpp-python`).

- The prompt is the model's own chat template (from the GGUF) over the conversation (`chat_prompt.py`), tokenized
  by the model's tokenizer; usage counts those real tokens.
- Cached input tokens are what llama.cpp really did not evaluate again: the longest prefix the new prompt shares
  with what its context already holds (the previous request's prompt and output). One context holds one
  sequence, so a request from another conversation in between leaves little to reuse: that is reported as is.
- `max_output_tokens` (or the end of the context window) stops decoding and ends with reason
  "max_output_tokens", so the response is `incomplete`.
- A 135M model cannot choose tools: hosted tools are routed by `tool_rules.route`, as the reference engine does.
  Once the tool results are in the prompt the model writes its answer from them, and the engine then appends
  the quoted results with their citations (`tool_rules.answer_from_tools`; function outputs a client sent:
  `function_rules.answer_from_functions`), so every citation points at text that really is in the answer and
  says what the tool really returned. The model's prose is let through a sentence at a time, and a sentence
  stating a number or a quote the tool output does not hold is dropped (`grounding.py`).
- No answer repeats an earlier one of the conversation word for word (`repeats.py`).
- One llama.cpp context cannot run two requests at once: requests wait for a lock, in turn. The lock is held while
  the engine's iterator is consumed, and released when it ends or is closed (a client that leaves).
"""

from __future__ import annotations

import codecs
import logging
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from .chat_prompt import FittedPrompt, Message, chat_messages, fit_prompt
from .engine import Annotation, Finish, GenerationRequest, StopReason, TextDelta, ToolCall, Usage
from .function_rules import answer_from_functions
from .grounding import GroundedProse
from .repeats import NoVerbatimRepeat
from .smollm2 import INSTALL_HINT, smollm2_weights
from .tool_rules import TOOL_RESULT_TYPES, Segment, answer_from_tools, latest_tool_results, route

logger = logging.getLogger(__name__)

# The system prompt when a request has no instructions. SmolLM2's template has its own default ("You are a
# helpful AI assistant named SmolLM, trained by Hugging Face"), but with it the 135M model answers plain questions
# with nonsense (measured: "What is the capital of France?" -> a loop of French words; with this one: "The capital
# of France is Paris.").
DEFAULT_SYSTEM = "You are a helpful assistant."
# Prefill runs at a few hundred tokens per second on a small CPU: a longer prompt would keep a user waiting tens
# of seconds before the first token (once; the prefix cache keeps later turns fast).
PROMPT_BUDGET = 3072
# How many earlier turns the prompt keeps (None: all that fit PROMPT_BUDGET). None, measured with
# bench/answer_quality.py (--budgets, seeds 7/11/23, earlier turns' max_output_tokens 60; 21 questions a category):
#   budget           follow-up  long follow-up  general  small talk
#   all (default)      13/21        9/21         16/21     12/21
#   last 8 turns       13/21        9/21         16/21     12/21   (same answers: no conversation is longer)
#   last 4 turns       13/21        4/21         16/21     12/21
#   last 2 turns       13/21        0/21         16/21     12/21
#   last 1 turn        13/21        0/21         16/21     12/21
#   512 / 1024 tokens  13/21        9/21         16/21     12/21   (same answers: these prompts stay under 512)
# Keeping fewer turns never helped (the 135M model does not get confused by a few unrelated turns), and it loses
# the fact a long follow-up needs; so only the token budget trims.
HISTORY_TURNS: int | None = None
# This model's own output limit, as every real model has one: a 135M model can loop on a phrase, and must not
# fill the whole context doing so. Reaching it ends the response `incomplete`, like any max_output_tokens.
MAX_OUTPUT_TOKENS = 1024
SWITCH_INTERVAL_S = 0.0005
# A tool's results are quoted in full after the model's answer, so the model's part is kept short.
TOOL_ANSWER_TOKENS = 96
# The sampling SmolLM2's model card uses; a request's own temperature / top_p win.
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9
# llama.cpp's own command-line default. Without it (the Python binding's default is none) the 135M model falls
# into loops: "What is the capital of France?" gave "le grand-fantômeau de France, le grand-fantômeau de …"
# until the token limit; with it, "The capital of France is Paris."
REPEAT_PENALTY = 1.1


class LlamaEngine:
    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int | None = None,
        prompt_budget: int = PROMPT_BUDGET,
        history_turns: int | None = HISTORY_TURNS,
        seed: int | None = None,
    ) -> None:
        """`prompt_budget` (tokens) and `history_turns` (earlier turns kept) bound the prompt (`fit_prompt`);
        `seed` fixes the sampling's random numbers (None: random), for measurements that can be repeated."""
        path = model_path or smollm2_weights()
        if path is None:
            raise RuntimeError(f"The SmolLM2 weights are not installed ({INSTALL_HINT}).")
        # n_ctx=0 takes the context length the model was trained with (8192 for SmolLM2).
        self.model = llama_cpp.Llama(
            str(path), n_ctx=n_ctx or 0, verbose=False, seed=llama_cpp.LLAMA_DEFAULT_SEED if seed is None else seed
        )
        self.n_ctx = self.model.n_ctx()
        self.prompt_budget = min(prompt_budget, self.n_ctx - 16)
        self.history_turns = history_turns
        template = self.model.metadata.get("tokenizer.chat_template")
        if not template:
            raise RuntimeError(f"{path} has no chat template")
        self._format = Jinja2ChatFormatter(
            template,
            eos_token=self._token_text(self.model.token_eos()),
            bos_token=self._token_text(self.model.token_bos()),
        )
        self._lock = threading.Lock()  # one request at a time on the one context
        # The decoding thread gives up the GIL at every llama.cpp call and must get it back between tokens; with
        # Python's default 5 ms switch interval it can wait that long behind the HTTP and SDK threads of the same
        # process (a token takes ~10 ms here). A shorter interval keeps decoding at raw llama.cpp speed.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))

    def generate(self, request: GenerationRequest) -> Iterator[TextDelta | Annotation | ToolCall | Finish]:
        limit = min(request.options.max_output_tokens or MAX_OUTPUT_TOKENS, MAX_OUTPUT_TOKENS)
        reserve = min(limit, self.n_ctx // 2)
        prompt = self.prompt(request, budget=min(self.prompt_budget, self.n_ctx - reserve))

        call = route(request)
        if call is not None:
            # The rules chose; the model was not run. Input is counted as sent, none of it evaluated.
            yield call
            yield Finish(
                Usage(input_tokens=len(prompt.tokens), output_tokens=self.count_tokens(call.arguments)),
                reason="tool_calls",
            )
            return

        # After a tool ran, the model writes a short answer and the quoted results follow it: room is kept for them
        # so that they are never cut off by the model's prose.
        function_quote = answer_from_functions(request.input_items)
        grounded = bool(latest_tool_results(request.input_items)) or function_quote is not None
        quotes = "".join(s.text for s in answer_from_tools(request.input_items)) + (function_quote or "")
        quotes_cost = self.count_tokens("\n\n" + quotes) if grounded else 0
        prose_limit = max(0, min(TOOL_ANSWER_TOKENS, limit - quotes_cost)) if grounded else limit
        # The tool results are in the latest user turn of the prompt: what the model's sentences must agree with.
        prose = GroundedProse(prompt.messages[-1]["content"]) if grounded else None
        if prose is None and any(
            item.get("type") in (*TOOL_RESULT_TYPES, "function_call_output") for item in request.input_items
        ):
            # A later turn: what it says of the earlier tools' results must agree with them.
            conversation = "\n\n".join(message["content"] for message in prompt.messages)
            prose = GroundedProse(conversation, about_tools_only=True)
        repeats = NoVerbatimRepeat(
            [
                self.model.tokenize(message["content"].encode(), add_bos=False)
                for message in prompt.messages
                if message["role"] == "assistant"
            ],
            len(prompt.tokens),
        )

        produced = cached = 0
        reason: StopReason = "stop"
        text: list[str] = []
        with self._lock:
            room = self.n_ctx - len(prompt.tokens)
            stop_after = min(prose_limit, room)
            if stop_after > 0:
                cached = self._reuse_prefix(prompt.tokens)
                decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                temperature = request.options.temperature
                top_p = request.options.top_p
                for token in self._decode_ahead(
                    prompt.tokens[cached:],
                    stop_after,
                    temp=DEFAULT_TEMPERATURE if temperature is None else temperature,
                    top_p=DEFAULT_TOP_P if top_p is None else top_p,
                    repeats=repeats,
                ):
                    if self._is_end(token):
                        break
                    produced += 1
                    piece = decoder.decode(self.model.detokenize([token]))
                    if prose is not None:
                        piece = prose.feed(piece)
                    if piece:
                        text.append(piece)
                        yield TextDelta(piece)
                    if produced >= min(limit, room):
                        reason = "max_output_tokens"
                    if produced >= stop_after:
                        break
                tail = decoder.decode(b"", final=True)
                if prose is not None:
                    tail = prose.feed(tail) + prose.finish()
                if tail:
                    text.append(tail)
                    yield TextDelta(tail)

        if reason == "stop" and grounded:
            answer = "".join(text)
            lead = "\n\n" if answer.strip() else ""
            segments = answer_from_tools(request.input_items, start=len(answer) + len(lead))
            if function_quote is not None:
                segments += [Segment("\n\n")] * bool(segments) + [Segment(function_quote)]
            if lead:
                produced += self.count_tokens(lead)
                yield TextDelta(lead)
            for segment in segments:
                cost = self.count_tokens(segment.text)
                if produced + cost > limit:
                    reason = "max_output_tokens"  # the quote is cut whole, never mid-citation
                    break
                produced += cost
                yield TextDelta(segment.text)
                if segment.annotation is not None:
                    yield Annotation(segment.annotation)
        yield Finish(
            Usage(input_tokens=len(prompt.tokens), output_tokens=produced, cached_tokens=cached), reason=reason
        )

    def _decode_ahead(
        self, tokens: Sequence[int], stop_after: int, *, temp: float, top_p: float, repeats: NoVerbatimRepeat
    ) -> Iterator[int]:
        """The generated tokens (evaluating `tokens` first, after the reused prefix), decoded on a thread of their
        own. llama.cpp releases the GIL while it computes, so the next token is computed while this one is sent to
        the client: decoding one token per pull, in step with the HTTP stream, ran at ~0.9x raw llama.cpp speed.
        Closing the iterator stops the thread within one token."""
        ready: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()
        stop = threading.Event()

        def produce() -> None:
            try:
                processors = llama_cpp.LogitsProcessorList([repeats]) if repeats else None
                generated = self.model.generate(
                    tokens,
                    reset=False,
                    temp=temp,
                    top_p=top_p,
                    repeat_penalty=REPEAT_PENALTY,
                    logits_processor=processors,
                )
                for produced, token in enumerate(generated, start=1):
                    if stop.is_set():
                        break
                    ready.put(token)
                    if produced >= stop_after or self._is_end(token):
                        break
            except BaseException as error:  # handed to the consumer, which raises it
                ready.put(error)
            finally:
                ready.put(None)

        producer = threading.Thread(target=produce, name="llama-decode", daemon=True)
        producer.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            producer.join()

    def _is_end(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.model._model.vocab, token))

    def prompt(self, request: GenerationRequest, budget: int) -> FittedPrompt:
        messages = chat_messages(request.instructions, request.input_items, DEFAULT_SYSTEM)
        fitted = fit_prompt(messages, self.template_tokens, budget, self.history_turns)
        if fitted.dropped_messages or fitted.cut_characters:
            logger.info(
                "prompt within %d tokens and %s earlier turns: left out the %d oldest messages and %d "
                "characters of the latest",
                budget,
                self.history_turns,
                fitted.dropped_messages,
                fitted.cut_characters,
            )
        return fitted

    def template_tokens(self, messages: list[Message]) -> list[int]:
        """The chat template applied to `messages` (with the assistant's opening), tokenized."""
        # llama_cpp types messages as its own TypedDicts per role; ours are the same {"role", "content"} dicts.
        text = self._format(messages=messages).prompt  # type: ignore[arg-type]
        return self.model.tokenize(text.encode(), add_bos=False, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenize(text.encode(), add_bos=False, special=False)) if text else 0

    def _reuse_prefix(self, tokens: Sequence[int]) -> int:
        """Keep the part of llama.cpp's context that matches the prompt's start; returns its length. At least one
        token is evaluated again, since sampling needs fresh logits. `eval` drops the context from `n_tokens` on."""
        held = self.model.input_ids[: self.model.n_tokens]
        shared = 0
        for held_token, token in zip(held, tokens[:-1], strict=False):
            if held_token != token:
                break
            shared += 1
        self.model.n_tokens = shared
        return shared

    def _token_text(self, token: int) -> str:
        return self.model.detokenize([token], special=True).decode("utf-8", errors="replace")
