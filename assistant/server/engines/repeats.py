"""No verbatim repeat of an earlier answer: a llama.cpp logits processor.

A 135M model asked "Thanks!" after an answer tends to copy that answer word for word. So, while it decodes, a
token that would make the new answer repeat `RUN` tokens in a row of one of its earlier answers in the
conversation is never sampled: the model has to say something else there. Shorter shared runs ("The capital
of France is") stay possible, so a follow-up can still restate a fact in other words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Tokens in a row of an earlier answer that the new answer may not repeat. About six words: long enough that
# ordinary phrases stay free, short enough to stop a copy within its first sentence.
RUN = 8


class NoVerbatimRepeat:
    """Called by llama.cpp with the context's tokens and the next token's logits, before sampling."""

    def __init__(self, earlier_answers: Sequence[Sequence[int]], prompt_length: int, run: int = RUN) -> None:
        self.prompt_length = prompt_length
        self.run = run
        # For every run - 1 tokens of an earlier answer: the tokens that came next there.
        self.next_tokens: dict[tuple[int, ...], set[int]] = {}
        for tokens in earlier_answers:
            for start in range(len(tokens) - run + 1):
                key = tuple(tokens[start : start + run - 1])
                self.next_tokens.setdefault(key, set()).add(tokens[start + run - 1])

    def __bool__(self) -> bool:
        return bool(self.next_tokens)

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        generated = input_ids[self.prompt_length :]
        if len(generated) >= self.run - 1:
            banned = self.next_tokens.get(tuple(generated[len(generated) - self.run + 1 :].tolist()))
            if banned:
                scores[list(banned)] = -np.inf
        return scores
