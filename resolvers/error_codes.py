"""Every GraphQL error gets an `extensions.code`; nothing unexpected reaches a client unmasked."""

import logging
import re

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from app.errors import (
    AuthError,
    IdempotencyConflict,
    IdentityConflict,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceError,
    Unavailable,
    VersionMismatch,
)

logger = logging.getLogger(__name__)

_CODES: list[tuple[type[ServiceError], str]] = [
    (AuthError, "UNAUTHENTICATED"),
    (NotFound, "NOT_FOUND"),
    (InvalidInput, "BAD_USER_INPUT"),
    (RateLimited, "RATE_LIMITED"),
    (Unavailable, "SERVICE_UNAVAILABLE"),
    (VersionMismatch, "CONFLICT"),
    (IdempotencyConflict, "CONFLICT"),
    (IdentityConflict, "CONFLICT"),
]


# graphql-core puts its guesses in the message: "... 'serch'. Did you mean 'search'? Found: ..."
# (fields, types, arguments, input fields, enum values); it has no switch to leave them out.
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def _coded(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def present(error: GraphQLError, *, suggest: bool = True) -> GraphQLError:
    """The error as the client sees it: the domain errors with their codes, the rest masked.

    Without `suggest` (production) no message guesses at names, which would tell a stranger
    the schema that introspection hides.
    """
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # syntax, validation, variable coercion (graphql-core wraps those errors in another
        # GraphQLError): the request itself is wrong
        message = error.message if suggest else _SUGGESTION.sub("", error.message)
        return _coded(error, message, {"code": "BAD_USER_INPUT", **(error.extensions or {})})
    if isinstance(original, ServiceError):
        code = next(code for kind, code in _CODES if isinstance(original, kind))
        extensions: dict[str, object] = {"code": code}
        if isinstance(original, InvalidInput) and original.errors:
            if len(original.errors) == 1:
                extensions["field"] = original.errors[0].field
            extensions["errors"] = [
                {"field": field.field, "message": field.message} for field in original.errors
            ]
        if isinstance(original, RateLimited) and original.retry_after is not None:
            extensions["retryAfter"] = original.retry_after
        if isinstance(original, VersionMismatch):
            extensions["currentVersion"] = original.current_version
        return _coded(error, original.message, extensions)
    logger.error("unexpected error in GraphQL", exc_info=original)
    return _coded(error, "Internal server error", {"code": "INTERNAL_SERVER_ERROR"})


class ErrorCodes(MaskErrors):
    """`MaskErrors` that passes every error through `present`."""

    def __init__(self, *, suggest: bool = True) -> None:
        super().__init__(should_mask_error=lambda _error: True)
        self.suggest = suggest

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return present(error, suggest=self.suggest)
