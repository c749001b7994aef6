"""Tokens per second and time to first token of the llama engine through our server, against raw llama.cpp.

    python bench/local_model.py [--runs 5] [--tokens 128]

In one process, interleaved run by run: raw `llama_cpp.Llama.create_completion(stream=True)` on the chat-templated
prompt, then the same prompt through `LocalServer(engine="llama")` with the openai SDK streaming
`/v1/responses` over loopback HTTP. Greedy decoding, so both produce the same tokens. Every run asks a new
question, so neither side reuses a cached prompt. Tokens per second counts the decode phase only (first token to
last); time to first token includes prefill. Target: the server decodes at >= 0.95x raw.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import llama_cpp
from openai import OpenAI

from assistant.server import LocalServer
from assistant.server.engines.llama import DEFAULT_SYSTEM, REPEAT_PENALTY
from assistant.server.engines.smollm2 import SMOLLM2_MODEL, smollm2_weights

TOPICS = [
    "a dragon",
    "a lighthouse",
    "a robot",
    "a river",
    "a violin",
    "a comet",
    "a garden",
    "a train",
    "a fox",
    "a mountain",
    "a clock",
    "a ship",
]


def question(run: int) -> str:
    return f"Write a long story about {TOPICS[run % len(TOPICS)]}."


def raw_run(model: llama_cpp.Llama, text: str, tokens: int) -> tuple[float, float, int]:
    messages = [{"role": "system", "content": DEFAULT_SYSTEM}, {"role": "user", "content": text}]
    formatter = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
        model.metadata["tokenizer.chat_template"], eos_token="<|im_end|>", bos_token="<|im_start|>"
    )
    prompt_tokens = model.tokenize(formatter(messages=messages).prompt.encode(), add_bos=False, special=True)
    model.reset()  # cold, like the server's new question
    start = time.perf_counter()
    first = last = 0.0
    count = 0
    for _chunk in model.create_completion(
        prompt_tokens, max_tokens=tokens, temperature=0, repeat_penalty=REPEAT_PENALTY, stream=True
    ):
        last = time.perf_counter()
        first = first or last
        count += 1
    return first - start, last - first, count


def server_run(client: OpenAI, text: str, tokens: int) -> tuple[float, float, int]:
    start = time.perf_counter()
    first = last = 0.0
    produced = 0
    for event in client.responses.create(
        model=SMOLLM2_MODEL, input=text, max_output_tokens=tokens, temperature=0, stream=True
    ):
        if event.type == "response.output_text.delta":
            last = time.perf_counter()
            first = first or last
        elif event.type in ("response.completed", "response.incomplete"):
            produced = event.response.usage.output_tokens
    return first - start, last - first, produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()

    raw_model = llama_cpp.Llama(str(smollm2_weights()), n_ctx=0, verbose=False)  # the engine's settings
    results: dict[str, list[tuple[float, float]]] = {"raw llama.cpp": [], "server + SDK": []}
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalServer(db_path=Path(folder) / "server.db", engine="llama") as server,
        OpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0) as client,
    ):
        server_run(client, "Hello!", 16)  # warm up both (page in the weights)
        raw_run(raw_model, "Hello!", 16)
        for run in range(args.runs):
            for name, measure in (
                ("raw llama.cpp", lambda t: raw_run(raw_model, t, args.tokens)),
                ("server + SDK", lambda t: server_run(client, t, args.tokens)),
            ):
                ttft, decode_s, count = measure(question(run))
                results[name].append((ttft, (count - 1) / decode_s if decode_s > 0 else 0.0))

    print(f"SmolLM2-135M-Instruct, {args.runs} runs of up to {args.tokens} tokens, greedy, interleaved")
    print(f"{'':16}{'TTFT p50 (ms)':>15}{'tokens/s p50':>15}{'tokens/s min':>15}")
    for name, rows in results.items():
        ttfts, rates = [r[0] for r in rows], [r[1] for r in rows]
        print(f"{name:16}{statistics.median(ttfts) * 1000:>15.1f}{statistics.median(rates):>15.1f}{min(rates):>15.1f}")
    # Run by run (each server run right after its raw twin), so that load from elsewhere on the machine, which
    # drifts over a minute, affects both sides of each ratio alike.
    ratios = [server[1] / raw[1] for raw, server in zip(results["raw llama.cpp"], results["server + SDK"], strict=True)]
    print(
        f"server / raw tokens per second, median of {len(ratios)} paired runs: {statistics.median(ratios):.3f}x "
        f"(min {min(ratios):.3f}x, max {max(ratios):.3f}x; target >= 0.95x)"
    )


if __name__ == "__main__":
    main()
