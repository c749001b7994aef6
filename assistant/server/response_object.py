"""The Response object, with every key the real API sends.

The key set follows the recorded responses (llm/pydantic-ai recordings, 2025-2026): the spec's required keys
(null when unset) plus status, usage, store, truncation, text, reasoning, background, conversation, etc.
`usage` always carries `input_tokens_details.cache_write_tokens`: SDK 3.57 requires it under strict validation
even though the older recordings omit it.
"""

from __future__ import annotations

import time
from typing import Any

from .engines.engine import Usage


def new_response(response_id: str, request: dict[str, Any], *, status: str) -> dict[str, Any]:
    """The Response as `response.created` shows it: echoing the request's settings, no output, no usage."""
    conversation = request.get("conversation")
    if isinstance(conversation, str):
        conversation = {"id": conversation}
    text = {"format": {"type": "text"}, "verbosity": "medium"}
    if isinstance(request.get("text"), dict):
        text = {**text, **request["text"]}
    reasoning = {"effort": None, "summary": None}
    if isinstance(request.get("reasoning"), dict):
        # Settings left null are not echoed (recorded: `mode` and `context` only when set), and `mode` may not be
        # null in a response.
        reasoning.update({key: value for key, value in request["reasoning"].items() if value is not None})
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": bool(request.get("background")),
        "completed_at": None,
        "conversation": {"id": conversation["id"]} if conversation else None,
        "error": None,
        "frequency_penalty": 0.0,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "metadata": request.get("metadata") or {},
        "model": request["model"],
        "moderation": None,
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True) is not False,
        "presence_penalty": 0.0,
        "previous_response_id": request.get("previous_response_id"),
        "prompt_cache_key": request.get("prompt_cache_key"),
        "prompt_cache_retention": request.get("prompt_cache_retention"),
        "reasoning": reasoning,
        "safety_identifier": request.get("safety_identifier"),
        "service_tier": request.get("service_tier") or "default",
        "store": request.get("store") is not False,
        "temperature": float(request["temperature"]) if request.get("temperature") is not None else 1.0,
        "text": text,
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": request.get("tools") or [],
        "top_logprobs": request.get("top_logprobs") or 0,
        "top_p": float(request["top_p"]) if request.get("top_p") is not None else 1.0,
        "truncation": request.get("truncation") or "disabled",
        "usage": None,
        "user": request.get("user"),
    }


def usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
