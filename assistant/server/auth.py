"""Bearer-key check, with the real API's 401 bodies, and key masking so a key never reaches a log or a message."""

from __future__ import annotations

import hmac

from .error_responses import ApiError


def mask_key(key: str) -> str:
    """`sk-abcdef...wxyz` -> `sk-ab****wxyz`, as the real API shows a wrong key. Short keys are fully hidden."""
    if len(key) < 12:
        return "****"
    return f"{key[:5]}****{key[-4:]}"


def check_authorization(header: str | None, api_key: str) -> None:
    """Raise the real API's 401 unless `Authorization: Bearer <api_key>` was sent."""
    scheme, _, presented = (header or "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if not hmac.compare_digest(presented.encode(), api_key.encode()):
        raise ApiError(
            401,
            f"Incorrect API key provided: {mask_key(presented)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
