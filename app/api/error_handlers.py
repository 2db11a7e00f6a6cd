"""How errors become HTTP answers: every body is `{"detail": ...}`, never a stack trace."""

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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
from app.logs import current_request
from app.middleware import SECURITY_HEADERS
from app.validation import field_errors, invalid_input, invalid_input_body

logger = logging.getLogger(__name__)

BEARER = {"WWW-Authenticate": "Bearer"}


def request_id() -> dict[str, str]:
    """`{"request_id": ...}` for the body of a 5xx answer: what to quote when reporting it."""
    info = current_request.get()
    return {} if info is None else {"request_id": info.id}


def _service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    if isinstance(error, InvalidInput):
        return JSONResponse(invalid_input_body(error), status_code=400)
    if isinstance(error, NotFound):
        return JSONResponse({"detail": error.message}, status_code=404)
    if isinstance(error, AuthError):
        return JSONResponse({"detail": error.message}, status_code=401, headers=BEARER)
    if isinstance(error, RateLimited):
        headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
        return JSONResponse({"detail": error.message}, status_code=429, headers=headers)
    if isinstance(error, Unavailable):
        return JSONResponse({"detail": error.message, **request_id()}, status_code=503)
    if isinstance(error, VersionMismatch):
        body = {"detail": error.message, "current_version": error.current_version}
        return JSONResponse(body, status_code=412, headers={"ETag": f'"{error.current_version}"'})
    if isinstance(error, IdempotencyConflict | IdentityConflict):
        return JSONResponse({"detail": error.message}, status_code=409)
    raise error  # pragma: no cover - every ServiceError subclass is mapped above


def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    body = invalid_input_body(invalid_input(field_errors(error.errors())))
    return JSONResponse(body, status_code=400)


def _allowed_methods(request: Request) -> set[str]:
    """Every documented method of the request's path. The router's 405 names only the methods of
    the first route that matched the path (`GET` for `/api/tasks/{id}`); HTTP wants them all."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/}]+\}", "[^/]+", template), request.url.path):
            methods |= {method.upper() for method in operations}
    return methods


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405 and (allowed := _allowed_methods(request)):
        headers["Allow"] = ", ".join(sorted(allowed))
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    """Starlette answers this one outside every middleware, so it adds the API headers itself."""
    logger.exception("unhandled error", exc_info=error)
    ids = request_id()
    headers = SECURITY_HEADERS | ({"X-Request-ID": ids["request_id"]} if ids else {})
    return JSONResponse(
        {"detail": "Internal server error", **ids}, status_code=500, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
