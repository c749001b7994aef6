"""Reading requests: JSON bodies, multipart uploads and cursor-page queries.

A JSON body must say so (`Content-Type: application/json`, which the SDK always sends): a browser may send a
`text/plain` POST to any port without asking first, so a route that would take one could be driven by any web
page. It may nest MAX_JSON_DEPTH deep at most, far more than any real request does, so nothing that walks a body
later can run out of stack. Uploads are multipart (`files.create`, `containers.files.create` with `file=`), as
the SDK sends them: the fields (`purpose`, ...) then one `file` part with its filename. Bytes are read in blocks
up to the limit, so an oversized upload is refused without holding it all in memory. How large a body may be at
all is the front door's business (front_door.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import UploadFile
from starlette.requests import Request

from assistant.nesting import nests_deeper_than

from . import error_responses
from .error_responses import ApiError
from .state import paginate

_READ_BLOCK = 1 << 20
# Structured-output schemas nest 10 levels deep at most on the real API (about 30 levels of JSON once written
# out), and no other part of a request comes near that.
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


async def json_object(request: Request, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object body. No body at all (and no content type) is `{}` where `empty_ok`."""
    content_type = _media_type(request)
    if content_type not in ("application/json", ""):
        raise _unsupported(content_type, "a JSON body, sent with Content-Type: application/json")
    raw = await request.body()
    if content_type == "" and raw:
        raise _unsupported(content_type, "a JSON body, sent with Content-Type: application/json")
    if not raw.strip() and empty_ok:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise error_responses.invalid_json() from None
    except RecursionError:
        raise _nested_too_deeply() from None
    if not isinstance(body, dict):
        raise error_responses.invalid_json()
    if nests_deeper_than(body, MAX_JSON_DEPTH):
        raise _nested_too_deeply()
    return body


def is_multipart(request: Request) -> bool:
    return _media_type(request) == "multipart/form-data"


async def multipart_upload(request: Request, max_bytes: int) -> tuple[dict[str, str], Upload]:
    """The text fields and the one `file` part of a multipart request."""
    if not is_multipart(request):
        raise _unsupported(_media_type(request), "a multipart/form-data upload with a `file` part")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except ApiError:
        raise  # the front door's 413: the body passed the size limit while the form was read
    except Exception as error:  # malformed multipart: the parser's own exception types vary by version
        raise ApiError(400, f"Could not parse the multipart form: {error}") from None
    fields: dict[str, str] = {}
    upload: Upload | None = None
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "file":
                    raise ApiError(400, f"Unexpected file field '{name}'.", param=name)
                upload = Upload(value.filename or "file", await _read_limited(value, max_bytes))
            else:
                fields[name] = value
    finally:
        await form.close()
    if upload is None:
        raise error_responses.missing_parameter("file")
    if not upload.data:
        raise ApiError(
            400, f"The file '{upload.filename}' is empty. Upload a file with content.", param="file", code="empty_file"
        )
    return fields, upload


async def _read_limited(upload: UploadFile, max_bytes: int) -> bytes:
    blocks: list[bytes] = []
    size = 0
    while block := await upload.read(_READ_BLOCK):
        size += len(block)
        if size > max_bytes:
            raise ApiError(
                400,
                f"The file '{upload.filename}' is larger than the {max_bytes} bytes this server accepts.",
                param="file",
                code="file_too_large",
            )
        blocks.append(block)
    return b"".join(blocks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _unsupported(content_type: str, wanted: str) -> ApiError:
    sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    return ApiError(415, f"This route takes {wanted}; this request had {sent}.", code="unsupported_media_type")


def _nested_too_deeply() -> ApiError:
    return ApiError(
        400,
        f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep, which no request needs. Send a flatter body.",
        code="invalid_json",
    )


def int_query(request: Request, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise error_responses.invalid_type(name, "an integer", raw) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise error_responses.integer_out_of_range(name, value, minimum, maximum)
    return value


def score_threshold(ranking_options: Any, param: str = "ranking_options") -> float:
    """`ranking_options.score_threshold` as a float in [0, 1]; 0 when absent. A wrong type is the client's 400,
    not a TypeError in the search."""
    if ranking_options is None:
        return 0.0
    if not isinstance(ranking_options, dict):
        raise error_responses.invalid_type(param, "an object", ranking_options)
    value = ranking_options.get("score_threshold")
    if value is None:
        return 0.0
    name = f"{param}.score_threshold"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error_responses.invalid_type(name, "a decimal", value)
    if not 0 <= value <= 1:
        # The real API's wording for decimals out of range (as for `temperature`).
        side, bound, code = (
            ("below minimum", ">= 0", "decimal_below_min_value")
            if value < 0
            else ("above maximum", "<= 1", "decimal_above_max_value")
        )
        raise ApiError(
            400,
            f"Invalid '{name}': decimal {side} value. Expected a value {bound}, but got {value} instead.",
            param=name,
            code=code,
        )
    return float(value)


MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64  # the API's limits on metadata (spec: Metadata)
MAX_METADATA_VALUE_CHARS = 512


def check_metadata(value: Any, param: str = "metadata") -> None:
    """A `metadata` object within the API's limits (responses, conversations and vector stores)."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise error_responses.invalid_type(param, "a metadata object", value)
    if len(value) > MAX_METADATA_PAIRS:
        raise ApiError(
            400,
            f"Invalid '{param}': too many properties. Expected an object with at most {MAX_METADATA_PAIRS} "
            f"properties, but got an object with {len(value)} properties instead.",
            param=param,
            code="object_above_max_properties",
        )
    # Every value is a string: the SDK's models (and the spec) type metadata as a map of strings, so a client
    # would reject any object that echoed anything else back.
    for key, item in value.items():
        if not isinstance(item, str):
            raise error_responses.invalid_type(f"{param}.{key}", "a string", item)
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise ApiError(
                400,
                f"Invalid '{param}': metadata keys must be at most {MAX_METADATA_KEY_CHARS} "
                f"characters, but got a key with {len(key)} characters instead.",
                param=param,
                code="invalid_value",
            )
        if len(item) > MAX_METADATA_VALUE_CHARS:
            raise ApiError(
                400,
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length "
                f"{MAX_METADATA_VALUE_CHARS}, but got a string with length {len(item)} instead.",
                param=f"{param}.{key}",
                code="string_above_max_length",
            )


COMPARISONS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]


def search_filters(value: Any, param: str = "filters") -> dict[str, Any] | None:
    """A file search `filters` value, checked all the way down (spec: ComparisonFilter, CompoundFilter), so the
    search never meets a null, an unknown type or an unhashable key half-way through its chunks."""
    if value is None:
        return None
    _check_filter(value, param)
    checked: dict[str, Any] = value
    return checked


def _check_filter(value: Any, param: str) -> None:
    if not isinstance(value, dict):
        raise error_responses.invalid_type(param, "a comparison or compound filter", value)
    kind = value.get("type")
    if kind in ("and", "or"):
        inner = value.get("filters")
        if not isinstance(inner, list):
            raise error_responses.invalid_type(f"{param}.filters", "an array of filters", inner)
        for index, condition in enumerate(inner):
            _check_filter(condition, f"{param}.filters[{index}]")
        return
    if kind not in COMPARISONS:
        raise error_responses.invalid_value(f"{param}.type", kind, [*COMPARISONS, "and", "or"])
    if not isinstance(value.get("key"), str):
        raise error_responses.invalid_type(f"{param}.key", "a string", value.get("key"))
    expected = value.get("value")
    scalar = (str, int, float)  # bool is an int: allowed, as the spec allows booleans
    if not (
        isinstance(expected, scalar)
        or (isinstance(expected, list) and all(isinstance(item, scalar) for item in expected))
    ):
        raise error_responses.invalid_type(f"{param}.value", "a string, number, boolean or array", expected)


def cursor_page(
    request: Request, items: Sequence[dict[str, Any]], default_limit: int = 20, max_limit: int = 100
) -> dict[str, Any]:
    """A cursor page over `items` (oldest first): `after`/`before` ids, `limit`, `order` (default desc)."""
    limit = int_query(request, "limit", minimum=1, maximum=max_limit) or default_limit
    asked = request.query_params.get("order", "desc")
    if asked not in ("asc", "desc"):
        raise error_responses.invalid_value("order", asked, ["asc", "desc"])
    order: Literal["asc", "desc"] = "asc" if asked == "asc" else "desc"
    ordered = list(items)
    before = request.query_params.get("before")
    if before is not None:
        # `before` keeps the items listed ahead of it in this order: reverse, page after it, reverse back.
        flipped: Literal["asc", "desc"] = "asc" if order == "desc" else "desc"
        page = paginate(ordered, after=before, limit=limit, order=flipped)
        data, has_more = list(reversed(page.data)), page.has_more
    else:
        page = paginate(ordered, after=request.query_params.get("after"), limit=limit, order=order)
        data, has_more = page.data, page.has_more
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else "",
        "last_id": data[-1]["id"] if data else "",
        "has_more": has_more,
    }
