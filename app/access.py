"""Each request's id, its access log line and its metrics, and who may name the client.

Every answer carries `X-Request-ID`. A proxy in `FORWARDED_ALLOW_IPS` may send one (nginx's
`$request_id`, a load balancer's), and then it is kept, so one id follows a request through the
proxy's logs and ours; anyone else's is replaced. A kept id is bounded in length and characters
(`REQUEST_ID`): an id goes into log lines, where a newline could forge one.

The app reads the proxy headers itself (uvicorn's `ProxyHeadersMiddleware`, inside this one),
because only before they are applied is the address of the peer, the proxy, still known.
uvicorn's own `--proxy-headers` rewrites the client first: addresses then come out the same,
but the proxy's request ids are not kept (`make serve` turns it off).
"""

import logging
import random
import re
import time
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.logs import RequestInfo, current_request
from app.metrics import Metrics, status_class

access_logger = logging.getLogger("todo.access")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
ACCESS_LINE = "%s %s %d %.2fms user=%s"
UNMATCHED = "unmatched"  # the route label of a request no route took (a 404)
# Any token is a method to HTTP: a client inventing one per request would grow the metrics'
# label values without bound. Methods outside these are counted (and logged) as `other`.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def new_request_id() -> str:
    """32 hex digits. An id need only be unique, not secret: the random module's generator
    (seeded from the OS in each process) costs a tenth of `uuid4`'s system call."""
    return f"{random.getrandbits(128):032x}"


def request_id_sent(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            sent = value.decode("latin-1")
            return sent if REQUEST_ID.fullmatch(sent) else None
    return None


def route_template(scope: Scope) -> str:
    route: BaseRoute | None = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class ObservedRequests:
    """Gives each request its id (`app.logs.current_request`) and, once answered, counts it
    and logs its access line: method, route template, status, duration, user and request id.
    Never the path's values, the query, a header or a body: they may hold an email or a token.

    The id is not reset when the request ends: the handler of an unexpected error, which
    Starlette runs outside every middleware, still reads it (each request is a task of its own,
    with a context of its own)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, forwarded_allow_ips: str) -> None:
        self.app = ProxyHeadersMiddleware(app, trusted_hosts=forwarded_allow_ips)  # type: ignore[arg-type]
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # type: ignore[arg-type]
            return
        peer = scope.get("client")
        trusted = peer is not None and peer[0] in self.app.trusted_hosts
        request_id = (request_id_sent(scope) if trusted else None) or new_request_id()
        info = RequestInfo(request_id)
        current_request.set(info)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)  # type: ignore[arg-type]
            return

        started = time.perf_counter()
        status = 500  # unless an answer starts
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)  # type: ignore[arg-type]
        finally:
            self._answered(scope, status, time.perf_counter() - started, info)

    def _answered(self, scope: Scope, status: int, seconds: float, info: RequestInfo) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = route_template(scope)
        self.metrics.requests.labels(method, route, status_class(status)).inc()
        self.metrics.request_seconds.labels(method, route).observe(seconds)
        if not access_logger.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "user_id": info.user_id,
        }
        # The record made here, not by `info()`: that would walk the stack for the caller's
        # file and line, a fifth of the line's cost, to say what is always this line.
        arguments = (method, route, status, seconds * 1000, info.user_id or "-")
        access_logger.handle(
            access_logger.makeRecord(
                access_logger.name, logging.INFO, __file__, 0, ACCESS_LINE, arguments, None,
                extra={"fields": fields},
            )
        )  # fmt: skip
