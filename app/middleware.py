"""ASGI middleware: request body limits, a UTF-8 query string, headers that suit a JSON API."""

import asyncio
from urllib.parse import unquote_to_bytes

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import FieldError
from app.validation import invalid_input, invalid_input_body


class BodyTooLarge(HTTPException):
    """An HTTP error, so the routes (which turn other body errors into 400) let it through."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body is larger than {max_bytes} bytes")


class BodyTooSlow(HTTPException):
    """The connection closes after this answer: the rest of the body may still be on its way."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"The request body did not arrive within {seconds:g} seconds",
            headers={"Connection": "close"},
        )


class BodyLimitMiddleware:
    """Bounds a request body in size (413 over `max_bytes`, announced or not) and in time (408
    when the whole body has not arrived `timeout` seconds after the app first asks for it, as
    from a client that announces a megabyte and sends 13 bytes).

    FastAPI's own `max_body_size` answers an announced oversize body in plain text; the contract
    wants every error body to be JSON `{"detail": ...}`.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"]) if scope["type"] == "http" else {}
        if b"content-length" not in headers and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to bound
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(BodyTooLarge(self.max_bytes), scope, receive, send)
            return

        received = 0
        complete = False
        deadline: float | None = None
        started = False

        async def bounded_receive() -> Message:
            nonlocal received, complete, deadline
            if complete:  # later calls wait for a disconnect: no deadline for that
                return await receive()
            deadline = deadline or asyncio.get_running_loop().time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):  # cheaper than anyio's cancel scopes
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except (BodyTooLarge, BodyTooSlow) as refusal:
            if started:
                raise
            await self._refuse(refusal, scope, receive, send)

    @staticmethod
    async def _refuse(error: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)
        await response(scope, receive, send)


SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


class ApiHeadersMiddleware:
    """`nosniff` on every answer; API answers may carry user data, so no cache may keep them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = not scope["path"].startswith(("/api", "/graphql"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name != "Cache-Control" or not cacheable:
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class QueryStringMiddleware:
    """Refuses a query string that does not decode as UTF-8 (400), where Starlette would quietly
    turn the bad bytes into U+FFFD and search for that."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        field = _first_undecodable(scope["query_string"]) if scope["type"] == "http" else None
        if field is None:
            await self.app(scope, receive, send)
            return
        error = invalid_input([FieldError(field, "is not valid UTF-8")])
        response = JSONResponse(invalid_input_body(error), status_code=400)
        await response(scope, receive, send)


def _first_undecodable(query_string: bytes) -> str | None:
    """The name of the first parameter whose name or value is not UTF-8 once percent-decoded."""
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        try:
            unquote_to_bytes(name).decode()
            unquote_to_bytes(value).decode()
        except UnicodeDecodeError:
            return unquote_to_bytes(name).decode(errors="replace") or "query"
    return None
