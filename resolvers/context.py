"""The GraphQL context: built per request, it carries what the resolvers need."""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from app.broker import Socket
from app.database import SharedTrips
from app.runtime import Runtime
from app.security import TokenClaims
from app.services import accounts
from app.statements import Runner
from app.throttle import Client
from models.user import User

T = TypeVar("T")


class Context(BaseContext):
    """Per request: the runtime, the client, the bearer token and the user (resolved once, on
    first need).

    Top-level fields and batched operations run concurrently on one context, so nothing here
    holds a database session: the units of work they ask for at once share a trip to a worker
    thread and a connection (`db`, `SharedTrips`), each with its own answer.
    """

    def __init__(
        self,
        runtime: Runtime,
        authorization: str | None,
        client: Client,
        websocket: WebSocket | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.db = SharedTrips(runtime.db)
        self.client = client  # one per HTTP request: its allowance spans aliases and batches
        self.websocket = websocket  # a live socket's (`resolvers.sockets`): one context per socket
        self.connection_params: dict[str, object] = {}  # its `connection_init` payload
        self.socket: Socket | None = None  # its registration with the broker, once authenticated
        self._authorization = authorization
        self._user: asyncio.Future[User] | None = None
        self._viewer: TokenClaims | None = None

    async def viewer(self) -> TokenClaims:
        """Who the request's token speaks for, read as REST's `Viewer` reads it (no statement of
        its own): the services check its session or identity in their own statements, and
        answer UNAUTHENTICATED once it has ended."""
        if self._viewer is None:
            self._viewer = await self.runtime.authenticator.viewer(self._authorization)
        return self._viewer

    async def user(self) -> User:
        """The authenticated user, while the session of the request's token is live;
        `AuthError` (UNAUTHENTICATED) otherwise. Read once a request (or socket)."""
        return await self._user_of(await self.viewer())

    async def with_user(self, service: Callable[[Runner, TokenClaims], T]) -> tuple[User, T]:
        """The user and `service(runner, viewer)`, on one trip to a worker thread when the user
        is not yet known: a task and its `owner` cost one trip, not two. (A page reads its
        tasks' owner in its own statement: `app.services.listing`.)"""
        viewer = await self.viewer()
        return await asyncio.gather(self._user_of(viewer), self.db.board(service, viewer))

    def _user_of(self, viewer: TokenClaims) -> "asyncio.Future[User]":
        """The request's one answer to who the user is, asked for at first need: the operations
        of a batch and the root fields of a query that all want the user read it once. Each
        caller awaits it shielded: graphql-core cancels the root fields beside one that fails
        (a non-null one), and a caller cancelled must not cancel the others' answer. A failed
        answer (the database unavailable) is not kept, so a live socket asks again."""
        if self._user is None:
            self._user = self.db.board(accounts.user_of, viewer)
            self._user.add_done_callback(self._forget_if_failed)
        return asyncio.shield(self._user)

    def _forget_if_failed(self, user: "asyncio.Future[User]") -> None:
        if self._user is user and (user.cancelled() or user.exception() is not None):
            self._user = None

    def authorize(self, authorization: str | None) -> None:
        """Authenticate with `authorization` from now on (a socket's `connection_init`)."""
        self._authorization = authorization
        self._user = self._viewer = None


async def get_context(connection: HTTPConnection) -> Context:
    """The FastAPI dependency that builds the context of each GraphQL request.

    Strawberry asks for a context on WebSocket upgrades too, so this takes any connection: a
    `Request` parameter would make FastAPI answer every upgrade with a 500.
    """
    runtime: Runtime = connection.app.state.runtime
    client = Client.arriving(
        connection.client and connection.client.host,
        runtime.settings,
        connection.headers.get("user-agent"),
    )
    websocket = connection if isinstance(connection, WebSocket) else None
    return Context(runtime, connection.headers.get("authorization"), client, websocket)
