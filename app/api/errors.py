"""How errors become HTTP answers: every body is `{"detail": ...}`, never a stack trace."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from app.errors import AuthError, InvalidInput, NotFound, RateLimited, ServiceError
from app.validation import field_errors, invalid_input

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly"
BEARER = {"WWW-Authenticate": "Bearer"}


def invalid_input_body(error: InvalidInput) -> dict[str, Any]:
    return {
        "detail": error.message,
        "errors": [{"field": field.field, "message": field.message} for field in error.errors],
    }


def _service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    if isinstance(error, InvalidInput):
        return JSONResponse(invalid_input_body(error), status_code=400)
    if isinstance(error, NotFound):
        return JSONResponse({"detail": error.message}, status_code=404)
    if isinstance(error, AuthError):
        return JSONResponse({"detail": error.message}, status_code=401, headers=BEARER)
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after)}
        return JSONResponse({"detail": error.message}, status_code=429, headers=headers)
    raise error  # pragma: no cover - every ServiceError subclass is mapped above


def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    body = invalid_input_body(invalid_input(field_errors(error.errors())))
    return JSONResponse(body, status_code=400)


def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=error.headers
    )


def _database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", error)
    return JSONResponse({"detail": DATABASE_UNAVAILABLE}, status_code=503)


def _database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DBAPIError)
    if error.connection_invalidated:
        return _database_unavailable(request, error)
    return _unexpected(request, error)


def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=error)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
