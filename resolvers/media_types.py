"""The media types of GraphQL over HTTP: `application/graphql-response+json` for clients that
ask for it, with its rules for requests that never reached execution.

With `application/json` (the legacy type) every answer that parsed as a request is HTTP 200 with
a `data` entry; with `application/graphql-response+json` a request error (the document does not
parse or validate, the variables do not coerce) is a 400 with no `data` entry, as the
GraphQL-over-HTTP specification says.
"""

from strawberry.types.execution import ExecutionResult

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_ALSO_JSON = ("application/json", "application/*", "*/*")


def _weights(accept: str) -> dict[str, float]:
    """Each media range of an `Accept` header with its `q` (1 when not given, 0 when unreadable)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media_range, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if media_range:
            weights[media_range.lower()] = max(weight, weights.get(media_range.lower(), 0.0))
    return weights


def prefers_graphql_response(accept: str | None) -> bool:
    """True when the client ranks `application/graphql-response+json` at least as high as any
    range that would also take `application/json`."""
    weights = _weights(accept or "")
    wanted = weights.get(GRAPHQL_RESPONSE_JSON, 0.0)
    return wanted > 0 and wanted >= max(weights.get(other, 0.0) for other in _ALSO_JSON)


def is_request_error(result: ExecutionResult) -> bool:
    """A result with no data whose errors carry no path: nothing was executed (errors raised
    while executing always name the field they come from)."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or [])
    )
