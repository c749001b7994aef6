"""The state modes a thread can be in (docs/architecture.md, "State modes").

A module of its own, free of imports, because the command line's parser offers them as choices and
`assistant --help` must not load the thread's machinery to say what they are.
"""

MODES = ("conversation", "chain", "local", "chat")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"Unknown thread mode {mode!r}; use one of: {', '.join(MODES)}.")
