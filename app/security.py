"""Passwords and tokens: plain functions over bcrypt and PyJWT, with no web framework in sight."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal, TypeVar

import anyio
import bcrypt
import jwt

from app.errors import AuthError
from app.metrics import Metrics, Pending
from models.utc import utcnow

T = TypeVar("T")
ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
# The password_hash of an account without a password (made by a Better Auth sign-in). No bcrypt
# hash starts with `!`, so no password matches it: Django marks unusable passwords the same way.
NO_PASSWORD = "!"  # noqa: S105
INVALID_TOKEN = "Invalid token"  # noqa: S105 (messages)
TOKEN_EXPIRED = "Token has expired"  # noqa: S105


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    """bcrypt 5 raises on passwords over 72 bytes; such a password never matches."""
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


@cache
def dummy_hash(rounds: int) -> str:
    """A hash to check unknown emails against, so they cost what a wrong password costs."""
    return hash_password("not a real password", rounds)


def check_password(password: str, password_hash: str | None, rounds: int) -> bool:
    """Check `password`; with no hash (an unknown user) or `NO_PASSWORD` spend the same time and
    answer False."""
    if password_hash is None or password_hash == NO_PASSWORD:
        verify_password(password, dummy_hash(rounds))
        return False
    return verify_password(password, password_hash)


class PasswordHasher:
    """Runs bcrypt in worker threads, at most `max_concurrent` at once.

    Hashing is CPU-bound: more hashes at once than cores only queue inside the CPU while holding
    threads that other requests need. Waiting callers wait here as coroutines, holding no thread.
    """

    def __init__(self, rounds: int, max_concurrent: int, metrics: Metrics) -> None:
        self.rounds = rounds
        self._slots = anyio.CapacityLimiter(max_concurrent)
        self._metrics = metrics

    async def hash(self, password: str) -> str:
        return await self._in_a_slot(lambda: hash_password(password, self.rounds))

    async def verify(self, password: str, password_hash: str | None) -> bool:
        return await self._in_a_slot(lambda: check_password(password, password_hash, self.rounds))

    async def _in_a_slot(self, work: Callable[[], T]) -> T:
        """`work()` in a worker thread once a slot is free, counted as waiting, then as
        running."""
        waiting = Pending(self._metrics.hashes_waiting)

        def started() -> T:
            waiting.end()
            with Metrics.inside(self._metrics.hashes_running):
                return work()

        try:
            return await anyio.to_thread.run_sync(started, limiter=self._slots)
        finally:
            waiting.end()


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    token_id: uuid.UUID
    type: TokenType
    issued_at: datetime
    expires_at: datetime
    # The session (the login's chain of refresh tokens) an access token belongs to: the token
    # authenticates only while that session is live. Refresh tokens find theirs in the database.
    # A Better Auth token's is its identity (`app.services.identities`), live while it exists.
    session_id: uuid.UUID | None = None
    # The issuer of a Better Auth token; None for the service's own tokens.
    issuer: str | None = None


def encode_claims(claims: TokenClaims, *, key: str) -> str:
    """The signed token for `claims`; HS256 is deterministic: the same claims, the same token."""
    payload: dict[str, Any] = {
        "sub": str(claims.user_id),
        "type": claims.type,
        "jti": str(claims.token_id),
        "iat": claims.issued_at,
        "exp": claims.expires_at,
    }
    if claims.session_id is not None:
        payload["sid"] = str(claims.session_id)
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def encode_token(
    *,
    user_id: uuid.UUID,
    type: TokenType,
    lifetime: timedelta,
    key: str,
    token_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
) -> tuple[str, TokenClaims]:
    """A new token of `type` for `user_id`, valid for `lifetime` from now, and its claims."""
    now = utcnow()
    claims = TokenClaims(
        user_id=user_id,
        token_id=token_id or uuid.uuid4(),
        type=type,
        issued_at=now,
        expires_at=now + lifetime,
        session_id=session_id,
    )
    return encode_claims(claims, key=key), claims


def decode_token(token: str, *, key: str, expected_type: TokenType) -> TokenClaims:
    """Verify signature, expiry and type; the algorithm is fixed here, never read from the token."""
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub", "type", "jti"]},
        )
        if payload["type"] != expected_type:
            raise AuthError(f"Expected an {expected_type} token")
        if expected_type == "access" and "sid" not in payload:
            raise AuthError(INVALID_TOKEN)  # issued before sessions: refresh for a new one
        return TokenClaims(
            user_id=uuid.UUID(payload["sub"]),
            token_id=uuid.UUID(payload["jti"]),
            type=expected_type,
            issued_at=datetime.fromtimestamp(payload["iat"], tz=UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], tz=UTC),
            session_id=uuid.UUID(payload["sid"]) if "sid" in payload else None,
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(TOKEN_EXPIRED) from None
    except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError, OverflowError, OSError):
        # OverflowError, OSError: a signed `exp` or `iat` far outside the calendar (10**20)
        raise AuthError(INVALID_TOKEN) from None
