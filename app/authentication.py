"""Who a request's bearer token speaks for, on every door (REST's dependencies, GraphQL's
context, a socket's `connection_init`): the service's own access tokens, and with
`BETTER_AUTH_URL` a Better Auth server's (contract: "Front ends that sign in with Better Auth").

The two kinds are told apart by the token's header: the service signs its own with HS256, an
algorithm Better Auth tokens may never use (`app.better_auth.ALGORITHMS`), so a token claiming
HS256 is checked as the service's own and nothing else, whatever issuer it names.

A Better Auth token is verified once, and signed in once (`identities.sign_in`, a database
round trip that may make its user); then it is remembered until it expires, at most
`REMEMBERED_TOKENS` of them, so the requests that follow cost what the service's own tokens cost.
A remembered token is still refused once its key leaves the key set (asked on each use: a dict
lookup, and a fetch once the set is old), and once its identity or user is gone (the services
check the viewer's identity in their own statements, as they check a session).

The service's own access tokens are remembered the same way once verified (their HS256 check
and claims cost about 50 us a request): until their `exp`, as PyJWT would refuse them then,
with the same message. Nothing else about them can change: the key is fixed for the process's
life, and their session is checked in the services' statements on every request.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import httpx
import jwt

from app.better_auth import LEEWAY_SECONDS, BetterAuthIdentity, BetterAuthTokens, KeySet
from app.database import Database
from app.errors import AuthError, FieldError, InvalidInput
from app.logs import note_user
from app.metrics import Metrics
from app.security import ALGORITHM, TOKEN_EXPIRED, TokenClaims, decode_token
from app.services import identities
from app.settings import Settings
from models.utc import utcnow

REMEMBERED_TOKENS = 10_000
NOT_AUTHENTICATED = "Not authenticated"
NOT_ENABLED = "This service does not accept Better Auth sign-ins"
_LEEWAY = timedelta(seconds=LEEWAY_SECONDS)
T = TypeVar("T")


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header's value; `AuthError` without one."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(NOT_AUTHENTICATED)
    return token.strip()


@dataclass(frozen=True)
class _Accepted:
    viewer: TokenClaims
    key_id: str


class Authenticator:
    """Turns an `Authorization` header into the viewer the services run for."""

    def __init__(self, settings: Settings, db: Database, metrics: Metrics) -> None:
        self._signing_key = settings.signing_key
        self._db = db
        self._http: httpx.AsyncClient | None = None
        self.better_auth: BetterAuthTokens | None = None
        if (server := settings.better_auth) is not None:
            self._http = httpx.AsyncClient()
            self.better_auth = BetterAuthTokens(
                KeySet(server.jwks_url, self._http, metrics=metrics),
                issuer=server.issuer,
                audience=server.audience,
                max_lifetime=server.max_token_seconds,
            )
        self._accepted: dict[str, _Accepted] = {}  # Better Auth's tokens
        self._own: dict[str, TokenClaims] = {}  # the service's own access tokens

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def viewer(self, authorization: str | None) -> TokenClaims:
        """The viewer of the header's token; `AuthError` for no token or one not accepted,
        `Unavailable` while the key set cannot be fetched for a Better Auth token's key,
        `IdentityConflict` for a first Better Auth token whose email has an account here."""
        viewer = await self._viewer(bearer_token(authorization))
        note_user(viewer.user_id)  # for the request's access line
        return viewer

    async def _viewer(self, token: str) -> TokenClaims:
        own = self._own.get(token)
        if own is not None:
            return self._own_until_expiry(token, own)
        if self.better_auth is not None:
            accepted = self._accepted.get(token)  # first: a remembered token's header is not read
            if accepted is not None:
                return await self._remembered_viewer(token, accepted, self.better_auth)
            if _algorithm(token) != ALGORITHM:
                identity = await self.better_auth.verify(token)
                viewer = await self._db.run(identities.sign_in, identity)
                _remember(self._accepted, token, _Accepted(viewer, identity.key_id))
                return viewer
        viewer = decode_token(token, key=self._signing_key, expected_type="access")
        _remember(self._own, token, viewer)
        return viewer

    def _own_until_expiry(self, token: str, viewer: TokenClaims) -> TokenClaims:
        """A remembered own token's viewer; refused from its `exp` on, as PyJWT refuses it
        (`exp <= now`: expired)."""
        if viewer.expires_at <= utcnow():
            self._own.pop(token, None)
            raise AuthError(TOKEN_EXPIRED)
        return viewer

    async def _remembered_viewer(
        self, token: str, accepted: _Accepted, better_auth: BetterAuthTokens
    ) -> TokenClaims:
        """The viewer of a remembered token, while it has not expired and its key is in the set."""
        if utcnow() > accepted.viewer.expires_at + _LEEWAY:
            self._accepted.pop(token, None)
            raise AuthError(TOKEN_EXPIRED)
        try:
            await better_auth.keys.key(accepted.key_id)
        except AuthError:  # the key left the set
            self._accepted.pop(token, None)
            raise
        return accepted.viewer

    async def better_auth_identity(self, token: str) -> BetterAuthIdentity:
        """The identity of a Better Auth token given in a body (linking), fully verified."""
        if self.better_auth is None:
            raise InvalidInput(NOT_ENABLED, [FieldError("token", "is not accepted here")])
        return await self.better_auth.verify(token)

    def remembered(self) -> set[str]:
        """The Better Auth tokens remembered now (for tests and metrics)."""
        return set(self._accepted)


def _remember(store: dict[str, T], token: str, value: T) -> None:
    """Keeps at most `REMEMBERED_TOKENS` in `store`: the oldest goes."""
    if len(store) >= REMEMBERED_TOKENS:
        del store[next(iter(store))]
    store[token] = value


def _algorithm(token: str) -> object:
    try:
        return jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        return None
