"""Tokens of a Better Auth server (its `jwt` plugin): the key set they are signed with, and the
rules a token must meet to be accepted (contract: "Front ends that sign in with Better Auth").

- The key set is fetched from `BETTER_AUTH_JWKS_URL` with httpx's async client (PyJWT's
  `PyJWKClient` fetches with blocking urllib, which would stall the event loop), and cached. A
  token whose `kid` the cache lacks makes one fetch, at most once per `UNKNOWN_KEY_FETCH_SECONDS`
  however many such tokens arrive; concurrent ones wait for that one fetch. The cache is fetched
  again once it is `KEY_SET_MAX_AGE_SECONDS` old, so a key that left the set is dropped within
  that. A failed fetch keeps the cached keys.
- While the key set cannot be fetched, a token whose key is not cached is `Unavailable` (503,
  `SERVICE_UNAVAILABLE`), never an `AuthError`: an outage signs no one out.
- The verification itself is PyJWT's (no hand-written JOSE): the algorithm pinned to the key's,
  one of `ALGORITHMS` (never `HS*` nor `none`), the issuer, the audience, `exp` and `iat` with
  `LEEWAY_SECONDS` of clock skew; then the lifetime, `sub` and `email` here.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from email_validator import EmailNotValidError

from app.errors import AuthError, Unavailable
from app.metrics import Metrics
from app.security import INVALID_TOKEN
from models.identity import SUBJECT_MAX
from models.text import EMAIL_MAX, normalise_email

ALGORITHMS = ("EdDSA", "ES256", "ES384", "ES512", "RS256", "PS256")
UNKNOWN_KEY_FETCH_SECONDS = 30.0
KEY_SET_MAX_AGE_SECONDS = 300.0  # a removed key goes within this (the contract: 10 minutes)
LEEWAY_SECONDS = 30
FETCH_TIMEOUT_SECONDS = 5.0

KEYS_UNAVAILABLE = "Sign-in with Better Auth is unavailable for a moment; try again shortly"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BetterAuthIdentity:
    """Who an accepted Better Auth token speaks for: the identity (issuer, subject), and the
    email and name the token carries (the name as given, or None); and the key that signed it."""

    issuer: str
    subject: str
    email: str
    name: str | None
    issued_at: datetime
    expires_at: datetime
    key_id: str


class KeySet:
    """The Better Auth server's public keys by `kid`, fetched as the module's docstring says."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self._url = url
        self._metrics = metrics
        self._client = client
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # of the last fetch that succeeded
        self._tried_at: float | None = None  # of the last attempt, whatever came of it
        self._failing = False  # the last attempt failed
        self._fetching = asyncio.Lock()
        self.fetches = 0  # attempts made, for tests and metrics

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key `kid`; `AuthError` when the set (fetched recently) has no such key,
        `Unavailable` when the set cannot be fetched and the key is not cached."""
        if self._stale():
            await self._refresh(lambda: self._stale())
        if kid not in self._keys:
            await self._refresh(lambda: kid not in self._keys and self._may_try_again())
        if kid in self._keys:
            return self._keys[kid]
        if self._failing:
            raise Unavailable(KEYS_UNAVAILABLE)
        raise AuthError(INVALID_TOKEN)

    def _stale(self) -> bool:
        return (
            self._fetched_at is not None
            and self._clock() - self._fetched_at >= KEY_SET_MAX_AGE_SECONDS
            and self._may_try_again()
        )

    def _may_try_again(self) -> bool:
        return self._tried_at is None or self._clock() - self._tried_at >= UNKNOWN_KEY_FETCH_SECONDS

    async def _refresh(self, still_needed: Callable[[], bool]) -> None:
        """One fetch at a time: whoever waited for the lock finds the set fresh and fetches
        nothing (`still_needed` is asked again under the lock)."""
        async with self._fetching:
            if not still_needed():
                return
            self._tried_at = self._clock()
            self.fetches += 1
            try:
                response = await self._client.get(self._url, timeout=FETCH_TIMEOUT_SECONDS)
                response.raise_for_status()
                keys = _usable_keys(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as error:
                logger.warning("Better Auth key set not fetched from %s: %r", self._url, error)
                self._failing = True
                self._count_fetch("failed")
                return
            self._keys, self._fetched_at, self._failing = keys, self._tried_at, False
            self._count_fetch("ok")

    def _count_fetch(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.key_set_fetches.labels(outcome).inc()


def _usable_keys(document: object) -> dict[str, jwt.PyJWK]:
    """The keys of a JWKS document that can verify a token here: with a `kid`, and of an
    accepted algorithm (a JWK without `alg` takes the one its curve or type implies)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue  # a key of a kind this service does not accept is no key for it
        if key.algorithm_name in ALGORITHMS:
            keys[entry["kid"]] = key
    return keys


class BetterAuthTokens:
    """Verifies a Better Auth token against the key set and the contract's rules."""

    def __init__(self, keys: KeySet, *, issuer: str, audience: str, max_lifetime: int) -> None:
        self.keys = keys
        self._issuer = issuer
        self._audience = audience
        self._max_lifetime = max_lifetime

    async def verify(self, token: str) -> BetterAuthIdentity:
        """The identity `token` speaks for; `AuthError` for any token that breaks a rule,
        `Unavailable` while its key cannot be known."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError(INVALID_TOKEN) from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS or not isinstance(kid, str):
            raise AuthError(INVALID_TOKEN)
        key = await self.keys.key(kid)
        if key.algorithm_name != algorithm:
            raise AuthError(INVALID_TOKEN)  # the header may not choose another algorithm
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.InvalidTokenError, OverflowError, ValueError):
            raise AuthError(INVALID_TOKEN) from None
        return self._identity(claims, kid)

    def _identity(self, claims: Mapping[str, Any], kid: str) -> BetterAuthIdentity:
        issued, expires, subject = claims["iat"], claims["exp"], claims["sub"]
        if not all(isinstance(t, int | float) for t in (issued, expires)):
            raise AuthError(INVALID_TOKEN)
        if expires - issued > self._max_lifetime:
            raise AuthError(INVALID_TOKEN)  # a token that lives too long is no session's
        if not isinstance(subject, str) or not 1 <= len(subject) <= SUBJECT_MAX:
            raise AuthError(INVALID_TOKEN)
        email, name = claims.get("email"), claims.get("name")
        try:
            email = normalise_email(email) if isinstance(email, str) else None
        except EmailNotValidError:
            email = None
        if email is None or len(email) > EMAIL_MAX:
            raise AuthError(INVALID_TOKEN)
        try:
            issued_at = datetime.fromtimestamp(issued, UTC)
            expires_at = datetime.fromtimestamp(expires, UTC)
        except (OverflowError, OSError, ValueError):
            raise AuthError(INVALID_TOKEN) from None
        return BetterAuthIdentity(
            issuer=claims["iss"],
            subject=subject,
            email=email,
            name=name if isinstance(name, str) else None,
            issued_at=issued_at,
            expires_at=expires_at,
            key_id=kid,
        )
