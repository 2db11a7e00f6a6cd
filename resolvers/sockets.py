"""Live GraphQL: the `graphql-transport-ws` sockets of `/graphql`, and what they may do.

- The upgrade is refused (HTTP 403) unless it offers `graphql-transport-ws` (the legacy
  `graphql-ws` protocol had an authentication bypass in Strawberry: never offered) and comes with no
  `Origin` (a non-browser client), the service's own, or one of `CORS_ORIGINS`: a page elsewhere
  cannot ride a visitor's socket.
- `connection_init` authenticates: `{"authorization": "Bearer <access token>"}`, the key in any
  case. Without a valid token of a live session the socket closes with 4403 (with no database to
  ask, 1013: try again later); without `connection_init` within 10 s, with 4408 (Strawberry's).
  A user holds at most `GRAPHQL_MAX_SOCKETS_PER_USER` sockets on an instance; one more closes with
  1013 too.
- When the socket's session ends or its access token expires, the broker closes it with 4401.
- Only subscriptions run over a socket, at most `SUBSCRIPTIONS_PER_SOCKET` at once (one more is an
  `error` for its id); queries and mutations go over HTTP, where the throttles, persisted queries
  and batching live.
- A subscription is held to the rules of HTTP requests before it starts: with
  `GRAPHQL_TRUSTED_ONLY` only a trusted document runs (else an `error` with code
  `PERSISTED_QUERY_NOT_ALLOWED`), and it may cost at most `GRAPHQL_MAX_COST` (else
  `QUERY_TOO_COSTLY`). Depth, aliases and tokens are checked as for any operation.
"""

from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Protocol, cast

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from graphql.error import GraphQLSyntaxError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from app.broker import TooManySockets
from app.errors import ServiceError, Unavailable
from resolvers.context import Context
from resolvers.document_limits import RequestLimits
from resolvers.persisted_queries import PersistedQueries, not_allowed

SUBSCRIPTIONS_PER_SOCKET = 10
CONNECTION_INIT_TIMEOUT = timedelta(seconds=10)
ONLY_SUBSCRIPTIONS = "Only subscriptions run over a socket; send queries and mutations over HTTP"
TOO_MANY_SOCKETS = "Too many live sockets for this user: close one, then reconnect"


def offers_protocol(websocket: WebSocket) -> bool:
    """Whether the upgrade offers `graphql-transport-ws` (the `Origin` Strawberry checks, against
    the router's `allowed_origins`)."""
    return GRAPHQL_TRANSPORT_WS_PROTOCOL in websocket.scope.get("subprotocols", ())


def _authorization(params: dict[str, object]) -> str | None:
    for key, value in params.items():
        if key.lower() == "authorization" and isinstance(value, str):
            return value
    return None


class TryAgainLater(Exception):
    """Closes the socket with 1013: the client may reconnect later (graphql-ws retries it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def connect(context: Context) -> None:
    """`connection_init`: authenticate the socket and register it with the broker."""
    context.authorize(_authorization(context.connection_params))
    try:
        await context.user()  # its session must be live, not only its token valid
        viewer = await context.viewer()
    except Unavailable as error:  # no database to ask: not the client's fault
        raise TryAgainLater(error.message) from None
    except ServiceError:  # no valid token, or its session has ended
        raise ConnectionRejectionError from None
    assert context.websocket is not None  # `get_context` keeps a socket's
    assert viewer.session_id is not None  # every access token names its session
    try:
        context.socket = context.runtime.broker.connect(
            viewer.user_id, viewer.session_id, viewer.expires_at, context.websocket.close
        )
    except TooManySockets:
        raise TryAgainLater(TOO_MANY_SOCKETS) from None


class LiveSocketAdapter(ASGIWebSocketAdapter):
    """The socket as Strawberry's protocol reads and writes it: messages are JSON objects in text
    frames. (The router's own encoder answers bytes, which would go out as binary frames, and its
    decoder is HTTP's.) Anything else closes the socket with 4400."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    message = orjson.loads(await self.ws.receive_text())
                except orjson.JSONDecodeError as error:
                    raise NonJsonMessageReceived from error
                if not isinstance(message, dict):
                    raise NonJsonMessageReceived
                yield message
        except KeyError as error:  # a binary frame
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


def _well_formed(message: Message) -> bool:
    """What Strawberry's handler takes for granted of a message's values (it checks only that
    the keys exist): a string id; for a subscribe, an object payload with a string query."""
    if not isinstance(message.get("id", ""), str):
        return False
    if message.get("type") != "subscribe":
        return True
    payload = message.get("payload")
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("query"), str)
        and isinstance(payload.get("variables") or {}, dict)
        and isinstance(payload.get("operationName") or "", str)
    )


def _is_subscription(message: SubscribeMessage, max_tokens: int) -> bool:
    """False for a query or mutation; True also for what does not parse within `max_tokens`,
    which Strawberry then answers as for any operation (its own limits apply)."""
    try:
        document = parse(message["payload"]["query"], max_tokens=max_tokens)
    except GraphQLSyntaxError:
        return True
    operation = get_operation_ast(document, message["payload"].get("operationName"))
    return operation is None or operation.operation is OperationType.SUBSCRIPTION


class RouterRules(Protocol):
    """What a socket asks of the router that accepted it: the rules of its HTTP requests."""

    persisted_queries: PersistedQueries
    limits: RequestLimits


class LiveSocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's protocol, with this service's rules (the module's docstring)."""

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            if self.context.socket is not None:
                self.context.runtime.broker.disconnect(self.context.socket)

    async def handle_message(self, message: Message) -> None:
        if not _well_formed(message):
            await self.handle_invalid_message("Invalid message: see graphql-transport-ws")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except TryAgainLater as refused:
            await self.websocket.close(code=1013, reason=refused.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        refusal = self._refusal(message) if self.connection_acknowledged else None
        if refusal is not None:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
            )
            return
        await super().handle_subscribe(message)

    def _refusal(self, message: SubscribeMessage) -> GraphQLError | None:
        """Why the subscription may not start, or None."""
        payload = message["payload"]
        max_tokens = self.context.runtime.settings.graphql_max_tokens
        if not _is_subscription(message, max_tokens):
            return GraphQLError(ONLY_SUBSCRIPTIONS)
        rules = cast(RouterRules, self.view)
        if not rules.persisted_queries.allows(payload["query"]):
            refused = not_allowed()
            return GraphQLError(refused.reason, extensions={"code": refused.code})
        cost, _ = rules.limits.measure(
            payload["query"], payload.get("operationName"), payload.get("variables")
        )
        if reason := rules.limits.too_costly(cost):
            return GraphQLError(reason, extensions={"code": "QUERY_TOO_COSTLY"})
        return None
