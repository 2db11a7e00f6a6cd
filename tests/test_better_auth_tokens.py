"""Better Auth tokens (contract: "Front ends that sign in with Better Auth"): the rules a token must
meet, and how the key set is fetched, against a key set served over real HTTP on loopback, with
keys and a clock of the test's own. tests/test_better_auth_server.py checks the same module against
a real Better Auth server."""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from app.better_auth import (
    KEY_SET_MAX_AGE_SECONDS,
    UNKNOWN_KEY_FETCH_SECONDS,
    BetterAuthTokens,
    KeySet,
)
from app.errors import AuthError, Unavailable
from app.metrics import Metrics
from tests.better_auth_server import BetterAuthServer, unverified_header

pytestmark = pytest.mark.anyio
ISSUER = "http://127.0.0.1:3000"


def now() -> int:
    return int(time.time())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class JwksServer:
    """A JWKS document served over HTTP; `up` False answers 503. Counts the requests."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    up: bool = True
    requests: int = 0
    url: str = ""


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    served = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests += 1
            body = json.dumps({"keys": served.keys}).encode()
            self.send_response(200 if served.up else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if served.up else b"{}")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_port}/api/auth/jwks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class SigningKey:
    kid: str
    private: Any
    algorithm: str = "EdDSA"

    def public_jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        codec = OKPAlgorithm if self.algorithm == "EdDSA" else ECAlgorithm
        return {**json.loads(codec.to_jwk(public)), "kid": self.kid}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.kid, **header}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)


def ed25519(kid: str) -> SigningKey:
    return SigningKey(kid, Ed25519PrivateKey.generate())


def claims(**changes: Any) -> dict[str, Any]:
    issued = now()
    base = {
        "iss": ISSUER,
        "aud": ISSUER,
        "sub": "user-1",
        "email": "Ada@Example.com",
        "name": "Ada",
        "iat": issued,
        "exp": issued + 900,
    }
    return {key: value for key, value in (base | changes).items() if value is not None}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client() -> Any:
    async with httpx.AsyncClient() as found:
        yield found


@pytest.fixture
def key(jwks: JwksServer) -> SigningKey:
    signing = ed25519("key-1")
    jwks.keys = [signing.public_jwk()]
    return signing


@pytest.fixture
def tokens(jwks: JwksServer, client: httpx.AsyncClient, clock: Clock) -> BetterAuthTokens:
    keys = KeySet(jwks.url, client, clock)
    return BetterAuthTokens(keys, issuer=ISSUER, audience=ISSUER, max_lifetime=3600)


async def test_a_token_signed_by_a_key_of_the_set_is_accepted(
    tokens: BetterAuthTokens, key: SigningKey
) -> None:
    identity = await tokens.verify(key.sign(claims()))
    assert (identity.issuer, identity.subject, identity.name) == (ISSUER, "user-1", "Ada")
    assert identity.email == "ada@example.com"  # normalised, as every stored email


async def test_an_audience_list_holding_the_audience_is_accepted(
    tokens: BetterAuthTokens, key: SigningKey
) -> None:
    identity = await tokens.verify(key.sign(claims(aud=["other", ISSUER])))
    assert identity.subject == "user-1"


async def test_an_es256_key_of_the_set_is_accepted(
    tokens: BetterAuthTokens, jwks: JwksServer
) -> None:
    signing = SigningKey("ec-1", generate_private_key(SECP256R1()), "ES256")
    jwks.keys = [signing.public_jwk()]
    assert (await tokens.verify(signing.sign(claims()))).subject == "user-1"


@pytest.mark.parametrize(
    "secret", ["the-service-jwt-secret-0123456789abcdef", "better-auth-secret"]
)
async def test_a_token_signed_with_a_shared_secret_is_refused(
    tokens: BetterAuthTokens, key: SigningKey, secret: str
) -> None:
    forged = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": key.kid})
    with pytest.raises(AuthError):
        await tokens.verify(forged)


async def test_an_unsigned_token_is_refused(tokens: BetterAuthTokens, key: SigningKey) -> None:
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": key.kid})  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        await tokens.verify(unsigned)


async def test_a_header_naming_another_algorithm_than_the_keys_is_refused(
    tokens: BetterAuthTokens, key: SigningKey
) -> None:
    _, payload, signature = key.sign(claims()).split(".")
    forged_header = jwt.utils.base64url_encode(
        json.dumps({"alg": "ES256", "kid": key.kid, "typ": "JWT"}).encode()
    ).decode()
    with pytest.raises(AuthError):
        await tokens.verify(f"{forged_header}.{payload}.{signature}")


async def test_an_altered_token_is_refused(tokens: BetterAuthTokens, key: SigningKey) -> None:
    header, _, signature = key.sign(claims()).split(".")
    other = jwt.utils.base64url_encode(json.dumps(claims(sub="user-2")).encode()).decode()
    with pytest.raises(AuthError):
        await tokens.verify(f"{header}.{other}.{signature}")


async def test_a_token_signed_by_a_key_outside_the_set_is_refused(
    tokens: BetterAuthTokens, key: SigningKey
) -> None:
    impostor = SigningKey(key.kid, Ed25519PrivateKey.generate())  # the same kid, another key
    with pytest.raises(AuthError):
        await tokens.verify(impostor.sign(claims()))


BROKEN_CLAIMS = {  # times as of the module's import: a test runs within minutes of it
    "another issuer": {"iss": "https://evil.example"},
    "another audience": {"aud": "https://evil.example"},
    "no audience": {"aud": None},
    "expired past the skew": {"exp": now() - 120, "iat": now() - 600},
    "no iat": {"iat": None},
    "lives too long": {"iat": now() - 100, "exp": now() + 3600},
    "no subject": {"sub": None},
    "an empty subject": {"sub": ""},
    "a subject too long": {"sub": "s" * 256},
    "no email": {"email": None},
    "an email that is none": {"email": "not an address"},
}


@pytest.mark.parametrize("changes", BROKEN_CLAIMS.values(), ids=BROKEN_CLAIMS)
async def test_a_token_breaking_a_rule_is_refused(
    tokens: BetterAuthTokens, key: SigningKey, changes: dict[str, Any]
) -> None:
    with pytest.raises(AuthError):
        await tokens.verify(key.sign(claims(**changes)))


async def test_a_token_expired_within_the_skew_is_accepted(
    tokens: BetterAuthTokens, key: SigningKey
) -> None:
    token = key.sign(claims(exp=now() - 20, iat=now() - 900))
    assert (await tokens.verify(token)).subject == "user-1"


async def test_unknown_kids_fetch_the_set_once_per_30_seconds_however_many_arrive(
    tokens: BetterAuthTokens, key: SigningKey, jwks: JwksServer, clock: Clock
) -> None:
    await tokens.verify(key.sign(claims()))
    clock.now += UNKNOWN_KEY_FETCH_SECONDS
    strangers = [ed25519(f"stranger-{n}").sign(claims()) for n in range(50)]
    outcomes = await asyncio.gather(
        *(tokens.verify(token) for token in strangers), return_exceptions=True
    )
    assert all(isinstance(outcome, AuthError) for outcome in outcomes)
    assert jwks.requests == 2  # the first token's, and one for all the unknown kids
    clock.now += UNKNOWN_KEY_FETCH_SECONDS - 1
    with pytest.raises(AuthError):
        await tokens.verify(strangers[0])
    assert jwks.requests == 2


async def test_a_rotated_key_is_fetched_and_accepted(
    tokens: BetterAuthTokens, key: SigningKey, jwks: JwksServer, clock: Clock
) -> None:
    await tokens.verify(key.sign(claims()))
    rotated = ed25519("key-2")
    jwks.keys = [key.public_jwk(), rotated.public_jwk()]
    clock.now += UNKNOWN_KEY_FETCH_SECONDS
    assert (await tokens.verify(rotated.sign(claims()))).subject == "user-1"


async def test_a_key_that_left_the_set_is_refused_once_the_set_is_fetched_again(
    tokens: BetterAuthTokens, key: SigningKey, jwks: JwksServer, clock: Clock
) -> None:
    token = key.sign(claims())
    await tokens.verify(token)
    jwks.keys = [ed25519("key-2").public_jwk()]
    clock.now += KEY_SET_MAX_AGE_SECONDS
    with pytest.raises(AuthError):
        await tokens.verify(token)


async def test_while_the_set_is_down_an_unknown_key_is_unavailable_not_unauthenticated(
    tokens: BetterAuthTokens, key: SigningKey, jwks: JwksServer, clock: Clock
) -> None:
    jwks.up = False
    with pytest.raises(Unavailable):
        await tokens.verify(key.sign(claims()))
    jwks.up = True
    clock.now += UNKNOWN_KEY_FETCH_SECONDS
    assert (await tokens.verify(key.sign(claims()))).subject == "user-1"


async def test_a_failed_fetch_keeps_the_cached_keys(
    tokens: BetterAuthTokens, key: SigningKey, jwks: JwksServer, clock: Clock
) -> None:
    await tokens.verify(key.sign(claims()))
    jwks.up = False
    clock.now += KEY_SET_MAX_AGE_SECONDS  # due for a fetch, which fails
    assert (await tokens.verify(key.sign(claims()))).subject == "user-1"
    assert jwks.requests == 2


# Against the real Better Auth server (tests/better_auth_server.py) -------------------------------


@pytest.fixture
def real_tokens(
    better_auth: BetterAuthServer, client: httpx.AsyncClient, clock: Clock
) -> BetterAuthTokens:
    keys = KeySet(better_auth.jwks_url, client, clock)
    return BetterAuthTokens(
        keys, issuer=better_auth.url, audience=better_auth.url, max_lifetime=3600
    )


def signed_in(better_auth: BetterAuthServer, name: str = "Ada Lovelace") -> tuple[str, str]:
    """A new user of the Better Auth server and a token the front end would get for them."""
    email = f"Ada-{uuid.uuid4().hex[:10]}@Example.com"
    return email, better_auth.token(better_auth.sign_up(email, name=name))


async def test_a_real_better_auth_token_is_accepted(
    better_auth: BetterAuthServer, real_tokens: BetterAuthTokens
) -> None:
    email, token = signed_in(better_auth)
    identity = await real_tokens.verify(token)
    assert (identity.issuer, identity.email, identity.name) == (
        better_auth.url,
        email.lower(),
        "Ada Lovelace",
    )
    assert (identity.expires_at - identity.issued_at).total_seconds() == 900


async def test_a_real_token_signed_with_better_auths_secret_is_refused(
    better_auth: BetterAuthServer, real_tokens: BetterAuthTokens
) -> None:
    _, token = signed_in(better_auth)
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        better_auth.secret,
        algorithm="HS256",
        headers={"kid": unverified_header(token)["kid"]},
    )
    with pytest.raises(AuthError):
        await real_tokens.verify(forged)


def real_claims(**changes: Any) -> dict[str, Any]:
    base = {"sub": "user-1", "email": "ada@example.com", "iat": now()}
    return {key: value for key, value in (base | changes).items() if value is not None}


REAL_BROKEN = {  # Better Auth fills iss, aud and exp (15 minutes) where they are left out
    "another issuer": real_claims(iss="https://evil.example"),
    "another audience": real_claims(aud="https://evil.example"),
    "lives too long": real_claims(exp=now() + 7200),
    "no iat": real_claims(iat=None),
    "no email": real_claims(email=None),
    "no subject": real_claims(sub=None),
}


@pytest.mark.parametrize("claims_given", REAL_BROKEN.values(), ids=REAL_BROKEN)
async def test_a_real_token_breaking_a_rule_is_refused(
    better_auth: BetterAuthServer, real_tokens: BetterAuthTokens, claims_given: dict[str, Any]
) -> None:
    with pytest.raises(AuthError):
        await real_tokens.verify(better_auth.sign(claims_given))


async def test_a_real_key_rotation_is_followed(
    better_auth: BetterAuthServer, real_tokens: BetterAuthTokens, clock: Clock
) -> None:
    _, before = signed_in(better_auth)
    await real_tokens.verify(before)
    better_auth.rotate(remove_old=True)
    _, after = signed_in(better_auth)
    clock.now += UNKNOWN_KEY_FETCH_SECONDS
    assert (await real_tokens.verify(after)).subject
    clock.now += KEY_SET_MAX_AGE_SECONDS  # the removed key is gone once the set is fetched again
    with pytest.raises(AuthError):
        await real_tokens.verify(before)


async def test_real_tokens_of_unknown_keys_fetch_the_set_once_per_30_seconds(
    better_auth: BetterAuthServer, real_tokens: BetterAuthTokens, clock: Clock
) -> None:
    _, token = signed_in(better_auth)
    await real_tokens.verify(token)
    fetched = real_tokens.keys.fetches
    strangers = [ed25519(f"stranger-{n}").sign(real_claims(iss=better_auth.url)) for n in range(40)]
    for stranger in strangers:
        with pytest.raises(AuthError):
            await real_tokens.verify(stranger)
    clock.now += UNKNOWN_KEY_FETCH_SECONDS
    await asyncio.gather(*(real_tokens.verify(s) for s in strangers), return_exceptions=True)
    assert real_tokens.keys.fetches == fetched + 1


async def test_the_real_key_set_going_down_is_unavailable_then_back(
    better_auth: BetterAuthServer, real_tokens: BetterAuthTokens, clock: Clock
) -> None:
    _, token = signed_in(better_auth)
    better_auth.jwks_down()
    with pytest.raises(Unavailable):
        await real_tokens.verify(token)  # nothing cached: the key cannot be known
    better_auth.jwks_up()
    clock.now += UNKNOWN_KEY_FETCH_SECONDS
    assert (await real_tokens.verify(token)).subject


async def test_key_set_fetches_are_counted_by_outcome(
    jwks: JwksServer, client: httpx.AsyncClient, clock: Clock, key: SigningKey
) -> None:
    metrics = Metrics()
    keys = KeySet(jwks.url, client, clock, metrics=metrics)
    await keys.key("key-1")
    jwks.up = False
    clock.now += KEY_SET_MAX_AGE_SECONDS + 1
    await keys.key("key-1")  # stale, not refreshed: the cached key still answers
    fetches = {
        outcome: metrics.registry.get_sample_value(
            "todo_better_auth_key_set_fetches_total", {"outcome": outcome}
        )
        for outcome in ("ok", "failed")
    }
    assert fetches == {"ok": 1, "failed": 1}
