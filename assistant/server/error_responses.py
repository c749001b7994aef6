"""OpenAI-shaped error responses.

Every failure leaves the server as `{"error": {"message", "type", "param", "code"}}` with the status the real API
uses, because the SDK maps the status to an exception class and copies `code`/`param`/`type` from the body.
Messages copy the real API's wording where a source records it (OpenAI's docs, the recordings in tests/recordings/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid_json() -> ApiError:
    return ApiError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    )


def missing_parameter(param: str) -> ApiError:
    return ApiError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def invalid_type(param: str, expected: str, got: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {json_type_name(got)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, value: Any, supported: list[str]) -> ApiError:
    choices = (
        ", ".join(f"'{s}'" for s in supported[:-1]) + f", and '{supported[-1]}'"
        if len(supported) > 1
        else f"'{supported[0]}'"
    )
    return ApiError(
        400, f"Invalid value: '{value}'. Supported values are: {choices}.", param=param, code="invalid_value"
    )


def integer_out_of_range(param: str, value: int, minimum: int | None = None, maximum: int | None = None) -> ApiError:
    if minimum is not None and value < minimum:
        return ApiError(
            400,
            f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    return ApiError(
        400,
        f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, but got {value} instead.",
        param=param,
        code="integer_above_max_value",
    )


def array_too_long(param: str, maximum: int, length: int) -> ApiError:
    return ApiError(
        400,
        f"Invalid '{param}': array too long. Expected an array with maximum length {maximum}, "
        f"but got an array with length {length} instead.",
        param=param,
        code="array_above_max_length",
    )


def not_found(kind: str, object_id: str) -> ApiError:
    # The real API answers unknown responses/conversations/items with 404, param and code null.
    return ApiError(404, f"{kind} with id '{object_id}' not found.")


def model_not_found(model: str) -> ApiError:
    # Recorded (otel-contrib test_responses_404, dd-trace response_create_error): POST /v1/responses answers 400.
    return ApiError(400, f"The requested model '{model}' does not exist.", param="model", code="model_not_found")


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
