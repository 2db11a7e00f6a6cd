"""Answers: JSON bodies serialised once, and the OpenAPI documentation of the error answers, so
generated clients know every status code."""

from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import Header, Response

from models.responses import ErrorBody, ValidationErrorBody, VersionMismatchBody

_INTEGER_HEADER = {"schema": {"type": "integer"}}
INVALID_INPUT = "Invalid input; `errors` names each field"

_DOCS: dict[int, dict[str, Any]] = {
    400: {"model": ValidationErrorBody, "description": INVALID_INPUT},
    401: {
        "model": ErrorBody,
        "description": "Missing, invalid or expired credentials",
        "headers": {
            "WWW-Authenticate": {"description": "Always `Bearer`", "schema": {"type": "string"}}
        },
    },
    404: {"model": ErrorBody, "description": "The task does not exist or is not yours"},
    409: {
        "model": ErrorBody,
        "description": "The Idempotency-Key was used with another request, or is in use; or a "
        "Better Auth sign-in belongs to another account",
    },
    412: {
        "model": VersionMismatchBody,
        "description": "If-Match names another version than the current one; nothing changed",
        "headers": {"ETag": {"description": "The current version", "schema": {"type": "string"}}},
    },
    413: {
        "model": ErrorBody,
        "description": "Request body over the limit (setting MAX_BODY_BYTES)",
    },
    429: {
        "model": ErrorBody,
        "description": (
            "Too many attempts: failed logins per email or address, sign-ups per address"
        ),
        "headers": {"Retry-After": {"description": "Seconds to wait", **_INTEGER_HEADER}},
    },
    503: {"model": ErrorBody, "description": "The database is unavailable"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers for `codes`, plus 503 (any route may find the database down)."""
    return {code: _DOCS[code] for code in (*codes, 503)}


TOTAL_COUNT_HEADER = {
    "X-Total-Count": {
        "description": "Tasks matching the filters, before limit and offset",
        **_INTEGER_HEADER,
    }
}


ETAG_HEADER = {
    "ETag": {"description": 'The task\'s version, as `"<version>"`', "schema": {"type": "string"}}
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the recorded answer to an earlier request with the key",
        "schema": {"type": "string"},
    }
}
IF_MATCH = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='Change only if the task is at this version (its ETag, `"3"`), or `*`',
    ),
]


def json_body(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """`content` as JSON in one orjson call, timestamps in UTC with `Z`.

    Routes that return this skip FastAPI's second pass over what the services already shaped
    (validating and serialising through the response model); the route's `response_model` still
    documents the answer in OpenAPI, and tests check the two agree.
    """
    body = orjson.dumps(content, option=orjson.OPT_UTC_Z)
    return Response(body, status_code, headers, media_type="application/json")
