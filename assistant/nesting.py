"""How deeply a parsed JSON value nests, measured without recursion: the measure is what stops a body too deep for
the recursive code after it (a translation that copies it, a route that walks it) from hitting Python's limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels deep (the outermost one is level 1)."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, Mapping | list):
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in (node.values() if isinstance(node, Mapping) else node))
    return False
