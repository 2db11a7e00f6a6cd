"""ASGI middleware: a request body limit, a UTF-8 query string, headers that suit a JSON API."""

from urllib.parse import unquote_to_bytes

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """An HTTP error, so the routes (which turn other body errors into 400) let it through."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body is larger than {max_bytes} bytes")


class BodyLimitMiddleware:
    """Answers 413 to bodies over `max_bytes`, whether or not they announce their length.

    FastAPI's own `max_body_size` answers an announced oversize body in plain text; the contract
    wants every error body to be JSON `{"detail": ...}`.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = BodyTooLarge(self.max_bytes).detail
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


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
        response = JSONResponse(
            {
                "detail": f"Invalid input: {field}: is not valid UTF-8",
                "errors": [{"field": field, "message": "is not valid UTF-8"}],
            },
            status_code=400,
        )
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
