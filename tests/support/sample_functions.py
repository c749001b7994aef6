"""Two small function tools and a question that needs both, one round each: the turn tests' common ground."""

from __future__ import annotations

TWO_ROUNDS = "What's the weather in Paris, then the time in Tokyo?"


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny, 21 C in {city}"


def get_time(city: str) -> str:
    """Local time in a city."""
    return f"14:05 in {city}"
