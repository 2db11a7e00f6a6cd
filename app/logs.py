"""Log lines: each carries the id of the request it belongs to; JSON lines or plain text.

The request a line belongs to is found in a context variable (`current_request`) that
`app.access` sets as a request arrives. asyncio copies the context into every task a request
starts and anyio into every worker thread, so a line logged by a service in a worker thread
names its request too. What the variable holds is one mutable `RequestInfo`, shared by those
copies: the user a resolver authenticates, in a task of its own, is known to the access line.
"""

import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
HANDLER_NAME = "todo-api"
# uvicorn's own loggers: their lines go through the same handler, in the same format. Its access
# lines are not wanted: `app.access` writes one per request, with the route and no path's values.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
UVICORN_ACCESS = "uvicorn.access"


@dataclass
class RequestInfo:
    id: str
    user_id: str | None = None


current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)


def note_user(user_id: object) -> None:
    """The request being served is the user's (for its access line)."""
    info = current_request.get()
    if info is not None:
        info.user_id = str(user_id)


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request it was logged in (`-` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = current_request.get()
        record.request_id = info.id if info is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, the fields passed
    as `extra={"fields": {...}}` (the access line's), and the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry |= getattr(record, "fields", {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged (as logging's last resort
    does), so a replaced stream (pytest's capture) is never written after it closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(log_format: LogFormat) -> None:
    """The process's one log handler, on the root logger, in `log_format`; uvicorn's loggers
    write through it too. Calling it again replaces the handler."""
    handler = _StandardError()
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in [each for each in root.handlers if each.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    uvicorn_access = logging.getLogger(UVICORN_ACCESS)
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
