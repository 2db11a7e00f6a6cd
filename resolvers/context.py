"""The GraphQL context: built per request, it carries what the resolvers need."""

import anyio
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from app.broker import Socket
from app.runtime import Runtime
from app.security import TokenClaims
from app.services import accounts
from app.throttle import Client
from models.user import User


class Context(BaseContext):
    """Per request: the runtime, the client, the bearer token and the user (resolved once, on
    first need).

    Top-level fields and batched operations run concurrently on one context, so nothing here
    holds a database session: each piece of work opens its own, in a worker thread (`db`).
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
        self.db = runtime.db
        self.client = client  # one per HTTP request: its allowance spans aliases and batches
        self.websocket = websocket  # a live socket's (`resolvers.sockets`): one context per socket
        self.connection_params: dict[str, object] = {}  # its `connection_init` payload
        self.socket: Socket | None = None  # its registration with the broker, once authenticated
        self._authorization = authorization
        self._user: User | None = None
        self._viewer: TokenClaims | None = None
        self._user_lock = anyio.Lock()

    async def user(self) -> User:
        """The authenticated user, while the session of the request's token is live;
        `AuthError` (UNAUTHENTICATED) otherwise."""
        async with self._user_lock:
            if self._user is None:
                viewer = await self.runtime.authenticator.viewer(self._authorization)
                self._user = await accounts.me(runtime=self.runtime, viewer=viewer)
                self._viewer = viewer
        return self._user

    def authorize(self, authorization: str | None) -> None:
        """Authenticate with `authorization` from now on (a socket's `connection_init`)."""
        self._authorization = authorization
        self._user = self._viewer = None

    async def viewer(self) -> TokenClaims:
        """The claims of the request's token, once `user()` has found its session live: what
        the services are run for (they check the session again in their own statements)."""
        await self.user()
        assert self._viewer is not None
        return self._viewer


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
