"""Object ids shaped like the real API's: a type prefix, then 48 hex characters.

Clients (and the local index) key rows on these ids and sometimes branch on the prefix, so the prefixes are the
real ones: resp_, msg_, conv_, fc_, rs_, ...
"""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def new_request_id() -> str:
    return f"req_{secrets.token_hex(16)}"
