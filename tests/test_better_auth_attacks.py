"""Attacks on the Better Auth door of the whole service (contract: "Front ends that sign in with
Better Auth"), against the session's real Better Auth server: forged algorithms, foreign issuers
and audiences, claims out of bounds, tampered tokens, floods of unknown keys, key rotation and
key-set outages. On the REST door unless a test says otherwise.

Every refusal is checked against a control: the same construction without the attack is accepted
(`test_a_token_signed_by_better_auth_with_sound_claims_is_accepted`, or a real token)."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import authentication
from app.better_auth import KEYS_UNAVAILABLE, KeySet
from tests.better_auth_server import BetterAuthServer, bearer, new_email, unverified_header
from tests.conftest import TEST_SECRET
from tests.support import error_codes

# Short enough that a test waits for it, instead of the service's 30 s and 300 s.
SHORT = 0.2
PAST_SHORT = SHORT + 0.1


def now() -> int:
    return int(time.time())


def sound_claims(**changes: Any) -> dict[str, Any]:
    """Claims a Better Auth token may carry, for a new identity, with `changes`; Better Auth's
    `sign` adds iss and aud (its base URL) when they are left out."""
    issued = now()
    base = {
        "sub": uuid.uuid4().hex,
        "email": new_email("attack"),
        "name": "Ada",
        "iat": issued,
        "exp": issued + 900,
    }
    return base | changes


def without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in claims.items() if key != name}


def encode_segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_segment(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def payload_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(decode_segment(token.split(".")[1]))
    return claims


def with_header(token: str, **changes: Any) -> str:
    """`token` with its header changed (a None value removes the entry), payload and signature
    kept."""
    header = {
        key: value
        for key, value in (unverified_header(token) | changes).items()
        if value is not None
    }
    _, payload, signature = token.split(".")
    return f"{encode_segment(header)}.{payload}.{signature}"


def with_payload(token: str, **changes: Any) -> str:
    """`token` with claims changed, its header and signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{encode_segment(payload_of(token) | changes)}.{signature}"


def hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """A token signed with HMAC-SHA256 by hand (PyJWT would refuse a public key as the secret)."""
    signing_input = f"{encode_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}."
    signing_input += encode_segment(claims)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{encode_segment(signature)}"


def current_key(better_auth: BetterAuthServer) -> dict[str, Any]:
    """The JWK of the key Better Auth signs with now."""
    kid = unverified_header(better_auth.sign(sound_claims()))["kid"]
    key: dict[str, Any] = next(k for k in better_auth.jwks()["keys"] if k["kid"] == kid)
    return key


def real_token(better_auth: BetterAuthServer, name: str = "Ada Lovelace") -> str:
    """A JWT from Better Auth's /api/auth/token for a new user, as the front end gets it."""
    return better_auth.token(better_auth.sign_up(new_email("real"), name=name))


def me(client: TestClient, token: str) -> httpx.Response:
    return client.get("/api/auth/me", headers=bearer(token))


def assert_accepted(response: httpx.Response, email: str | None = None) -> None:
    assert response.status_code == 200, response.text
    if email is not None:
        assert response.json()["email"] == email


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert set(response.json()) == {"detail"}


def key_set(app: FastAPI) -> KeySet:
    tokens = app.state.runtime.authenticator.better_auth
    assert tokens is not None
    keys: KeySet = tokens.keys
    return keys


# The controls


def test_a_real_better_auth_token_is_accepted(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = new_email("real")
    token = better_auth.token(better_auth.sign_up(email, name="Ada Lovelace"))
    response = me(better_auth_client, token)
    assert_accepted(response, email)
    assert response.json()["name"] == "Ada Lovelace"


def test_a_token_signed_by_better_auth_with_sound_claims_is_accepted(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    claims = sound_claims()
    assert_accepted(me(better_auth_client, better_auth.sign(claims)), claims["email"])


# Algorithm confusion


@pytest.mark.parametrize(
    "secret_of",
    ["jwt_secret", "better_auth_secret", "public_key_raw", "public_key_jwk"],
)
def test_an_hs256_token_with_better_auths_claims_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, secret_of: str
) -> None:
    key = current_key(better_auth)
    secrets = {
        "jwt_secret": TEST_SECRET.encode(),
        "better_auth_secret": better_auth.secret.encode(),
        "public_key_raw": decode_segment(key["x"]),  # the classic confusion: the public key
        "public_key_jwk": json.dumps(key).encode(),
    }
    claims = sound_claims(iss=better_auth.url, aud=better_auth.url)
    forged = hs256(claims, secrets[secret_of], key["kid"])
    assert_refused(me(better_auth_client, forged))


@pytest.mark.parametrize("algorithm", ["none", "None", "NONE"])
def test_an_unsigned_token_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, algorithm: str
) -> None:
    header = {"alg": algorithm, "typ": "JWT", "kid": current_key(better_auth)["kid"]}
    claims = sound_claims(iss=better_auth.url, aud=better_auth.url)
    assert_refused(me(better_auth_client, f"{encode_segment(header)}.{encode_segment(claims)}."))


@pytest.mark.parametrize("algorithm", ["ES256", "ES512", "RS256", "PS256", "HS256"])
def test_a_real_token_whose_header_names_another_algorithm_than_its_keys_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, algorithm: str
) -> None:
    token = real_token(better_auth)
    assert unverified_header(token)["alg"] == "EdDSA"
    assert_refused(me(better_auth_client, with_header(token, alg=algorithm)))


@pytest.mark.parametrize("kid", [None, 7, ""], ids=["missing", "number", "empty"])
def test_a_real_token_without_a_usable_kid_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, kid: object
) -> None:
    assert_refused(me(better_auth_client, with_header(real_token(better_auth), kid=kid)))


# Issuer and audience


@pytest.mark.parametrize("issuer", ["https://evil.example", "trailing-slash", "localhost"])
def test_a_token_of_another_issuer_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, issuer: str
) -> None:
    issuers = {
        "trailing-slash": f"{better_auth.url}/",
        "localhost": better_auth.url.replace("127.0.0.1", "localhost"),
    }
    claims = sound_claims(iss=issuers.get(issuer, issuer))
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


@pytest.mark.parametrize("audience", ["https://evil.example", "with-path", "list-without"])
def test_a_token_for_another_audience_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, audience: str
) -> None:
    audiences: dict[str, Any] = {
        "with-path": f"{better_auth.url}/api",
        "list-without": ["https://evil.example", f"{better_auth.url}/"],
    }
    claims = sound_claims(aud=audiences.get(audience, audience))
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


def test_a_token_whose_audiences_include_the_service_is_accepted(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    claims = sound_claims(aud=["https://other.example", better_auth.url])
    assert_accepted(me(better_auth_client, better_auth.sign(claims)), claims["email"])


# Times


def test_a_token_that_lives_longer_than_an_hour_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    issued = now()
    claims = sound_claims(iat=issued, exp=issued + 3601)
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


def test_a_token_that_lives_exactly_an_hour_is_accepted(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    issued = now()
    claims = sound_claims(iat=issued, exp=issued + 3600)
    assert_accepted(me(better_auth_client, better_auth.sign(claims)), claims["email"])


def test_a_token_issued_long_ago_that_expires_later_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    issued = now() - 3000  # with a 15-minute expiry ahead: 65 minutes of life
    claims = sound_claims(iat=issued, exp=now() + 900)
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


def test_a_token_without_iat_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    claims = without(sound_claims(), "iat")
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


def test_a_token_expired_beyond_the_clock_skew_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    claims = sound_claims(iat=now() - 900, exp=now() - 60)
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


def test_a_token_expired_within_the_clock_skew_is_accepted(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    claims = sound_claims(iat=now() - 900, exp=now() - 10)
    assert_accepted(me(better_auth_client, better_auth.sign(claims)), claims["email"])


# Tampering


def test_a_real_token_with_an_altered_payload_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = real_token(better_auth)
    altered = with_payload(token, email=new_email("intruder"))
    assert altered.split(".")[0] == token.split(".")[0]
    assert_refused(me(better_auth_client, altered))


def test_a_real_token_with_another_users_sub_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    victim = better_auth.sign_up(new_email("victim"))
    assert_accepted(me(better_auth_client, better_auth.token(victim)))  # the victim exists here
    swapped = with_payload(real_token(better_auth), sub=victim.user_id)
    assert_refused(me(better_auth_client, swapped))


def test_a_real_token_with_a_bad_signature_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    header, payload, signature = real_token(better_auth).split(".")
    flipped = bytearray(decode_segment(signature))
    flipped[10] ^= 0x01
    assert_refused(me(better_auth_client, f"{header}.{payload}.{encode_segment(bytes(flipped))}"))


def test_a_real_token_with_another_tokens_signature_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    header, payload, _ = real_token(better_auth).split(".")
    other_signature = real_token(better_auth).split(".")[2]
    assert_refused(me(better_auth_client, f"{header}.{payload}.{other_signature}"))


# Claims out of bounds


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", "", 42, None], ids=repr)
def test_a_token_with_an_invalid_email_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, email: object
) -> None:
    claims = sound_claims(email=email) if email is not None else without(sound_claims(), "email")
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


def test_a_token_with_a_sub_of_256_characters_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    claims = sound_claims(sub="s" * 256)
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


def test_a_token_with_a_sub_of_255_characters_is_accepted(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    claims = sound_claims(sub=uuid.uuid4().hex + "s" * 223)
    assert len(claims["sub"]) == 255
    assert_accepted(me(better_auth_client, better_auth.sign(claims)), claims["email"])


@pytest.mark.parametrize("sub", ["", None], ids=repr)  # Better Auth signs no other sub
def test_a_token_with_an_empty_or_missing_sub_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient, sub: object
) -> None:
    claims = sound_claims(sub=sub) if sub is not None else without(sound_claims(), "sub")
    assert_refused(me(better_auth_client, better_auth.sign(claims)))


# Unknown keys


def test_a_flood_of_unknown_kids_fetches_the_key_set_once_not_per_request(
    better_auth: BetterAuthServer, better_auth_app: FastAPI
) -> None:
    token = real_token(better_auth)
    forged = [with_header(token, kid=uuid.uuid4().hex) for _ in range(50)]
    with TestClient(better_auth_app) as client, ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda t: me(client, t).status_code, forged))
        fetches = key_set(better_auth_app).fetches
        assert_accepted(me(client, token))  # the set the flood fetched holds the real key
        after = key_set(better_auth_app).fetches
    assert statuses == [401] * 50
    assert 1 <= fetches <= 2
    assert after == fetches


# Key rotation


def test_after_a_rotation_new_and_old_keys_tokens_are_both_accepted(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
    better_auth_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.better_auth.UNKNOWN_KEY_FETCH_SECONDS", SHORT)
    used = real_token(better_auth)
    assert_accepted(me(better_auth_client, used))  # the old key is cached
    unused = better_auth.sign(old_claims := sound_claims())  # old key, never seen here
    new_kid = better_auth.rotate()
    assert new_kid != unverified_header(used)["kid"]
    time.sleep(PAST_SHORT)

    new = real_token(better_auth)
    assert unverified_header(new)["kid"] == new_kid
    assert_accepted(me(better_auth_client, new))
    assert_accepted(me(better_auth_client, used))
    assert_accepted(me(better_auth_client, unused), old_claims["email"])
    assert key_set(better_auth_app).fetches == 2  # the first token's, and the new kid's


def test_a_key_removed_from_the_set_is_refused_once_the_set_is_old(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
    better_auth_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used = real_token(better_auth)
    unused = better_auth.sign(sound_claims())
    assert_accepted(me(better_auth_client, used))
    monkeypatch.setattr("app.better_auth.KEY_SET_MAX_AGE_SECONDS", SHORT)
    monkeypatch.setattr("app.better_auth.UNKNOWN_KEY_FETCH_SECONDS", SHORT)
    better_auth.rotate(remove_old=True)
    time.sleep(PAST_SHORT)

    assert_refused(me(better_auth_client, used))  # remembered, yet its key has left
    assert_refused(me(better_auth_client, unused))
    assert key_set(better_auth_app).fetches >= 2


def test_a_key_removed_from_the_set_is_refused_once_an_unknown_kid_fetched_it_again(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.better_auth.UNKNOWN_KEY_FETCH_SECONDS", SHORT)
    used = real_token(better_auth)
    assert_accepted(me(better_auth_client, used))
    better_auth.rotate(remove_old=True)
    time.sleep(PAST_SHORT)

    assert_accepted(me(better_auth_client, real_token(better_auth)))  # a new kid: fetched again
    assert_refused(me(better_auth_client, used))


# The key set down


def test_while_the_key_set_is_down_a_token_of_an_uncached_key_is_503(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = real_token(better_auth)
    better_auth.jwks_down()
    response = me(better_auth_client, token)
    assert response.status_code == 503, response.text
    assert response.json() == {
        "detail": KEYS_UNAVAILABLE,
        "request_id": response.headers["x-request-id"],
    }
    assert "WWW-Authenticate" not in response.headers


def test_while_the_key_set_is_down_graphql_answers_service_unavailable(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = real_token(better_auth)
    better_auth.jwks_down()
    response = better_auth_client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    assert error_codes(response.json()) == ["SERVICE_UNAVAILABLE"]
    assert response.json()["data"] is None


def test_once_the_key_set_is_back_the_token_is_accepted(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.better_auth.UNKNOWN_KEY_FETCH_SECONDS", SHORT)
    token = real_token(better_auth)
    better_auth.jwks_down()
    assert me(better_auth_client, token).status_code == 503
    better_auth.jwks_up()
    time.sleep(PAST_SHORT)
    assert_accepted(me(better_auth_client, token))


def test_a_token_whose_key_is_cached_keeps_working_while_the_set_is_down(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
    better_auth_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remembered, new = real_token(better_auth), real_token(better_auth)
    assert_accepted(me(better_auth_client, remembered))
    # The set is old at once, so the requests below try to fetch it again, and fail.
    monkeypatch.setattr("app.better_auth.KEY_SET_MAX_AGE_SECONDS", SHORT)
    monkeypatch.setattr("app.better_auth.UNKNOWN_KEY_FETCH_SECONDS", SHORT)
    better_auth.jwks_down()
    time.sleep(PAST_SHORT)

    assert_accepted(me(better_auth_client, remembered))
    assert_accepted(me(better_auth_client, new))  # not remembered: its key is
    assert key_set(better_auth_app).fetches >= 2  # the set was fetched again, and failed


# Remembered tokens


def test_remembered_tokens_are_bounded_the_oldest_forgotten_first(
    better_auth: BetterAuthServer,
    better_auth_app: FastAPI,
    better_auth_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many valid tokens cannot grow a worker's memory without bound; a forgotten token is
    verified again, and still works."""
    monkeypatch.setattr(authentication, "REMEMBERED_TOKENS", 2)
    remembered = better_auth_app.state.runtime.authenticator.remembered
    first, second, third = (real_token(better_auth) for _ in range(3))
    for token in (first, second, third):
        assert_accepted(me(better_auth_client, token))

    assert remembered() == {second, third}
    assert_accepted(me(better_auth_client, first))
    assert remembered() == {third, first}
