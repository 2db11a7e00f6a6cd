"""The Better Auth test server (tests/better_auth_server.py) is the real thing and its controls
work: tokens from a real sign-up verify with PyJWT against the published key set, as the service
will verify them (contract: "Front ends that sign in with Better Auth")."""

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.better_auth_server import SESSION_COOKIE, BetterAuthServer, unverified_header


def _verify(token: str, keys: dict[str, Any], *, issuer: str, audience: str) -> dict[str, Any]:
    """PyJWT's verification with the key of the token's kid, EdDSA only."""
    key = jwt.PyJWKSet.from_dict(keys)[unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["EdDSA"], audience=audience, issuer=issuer
    )
    return claims


def _email() -> str:
    return f"ba-{uuid.uuid4().hex[:12]}@example.com"


def test_a_real_sign_up_gets_a_token_that_verifies_with_the_key_set(
    better_auth: BetterAuthServer,
) -> None:
    email = _email()
    session = better_auth.sign_up(email, "correct-horse-battery", "Ada Lovelace")
    token = better_auth.token(session)
    keys = better_auth.jwks()

    header = unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] in {key["kid"] for key in keys["keys"]}
    assert {key["kty"] for key in keys["keys"]} == {"OKP"}
    assert not better_auth.url.endswith("/")
    assert better_auth.jwks_url == f"{better_auth.url}/api/auth/jwks"

    claims = _verify(token, keys, issuer=better_auth.url, audience=better_auth.url)
    assert claims["iss"] == claims["aud"] == better_auth.url
    assert claims["sub"] == claims["id"] == session.user_id
    assert claims["email"] == email
    assert claims["name"] == "Ada Lovelace"
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert abs(claims["iat"] - time.time()) < 60
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, jwt.PyJWKSet.from_dict(keys)[header["kid"]], algorithms=["EdDSA"])


def test_the_token_endpoint_takes_the_session_cookie_not_a_bearer_token(
    better_auth: BetterAuthServer,
) -> None:
    session = better_auth.sign_up(_email())
    endpoint = f"{better_auth.url}/api/auth/token"
    cookie = httpx.get(endpoint, headers={"Cookie": f"{SESSION_COOKIE}={session.cookie}"})
    assert cookie.status_code == 200
    for credential in (session.token, session.cookie):
        bearer = httpx.get(endpoint, headers={"Authorization": f"Bearer {credential}"})
        assert bearer.status_code == 401  # only with Better Auth's `bearer` plugin
    assert httpx.get(endpoint).status_code == 401


def test_chosen_claims_are_signed_with_the_same_key(better_auth: BetterAuthServer) -> None:
    now = int(time.time())
    chosen: dict[str, Any] = {
        "sub": "someone",
        "iat": now,
        "exp": now + 86400,
        "iss": "https://elsewhere.example",
        "aud": "https://api.elsewhere.example",
    }
    token = better_auth.sign(chosen)
    assert unverified_header(token)["alg"] == "EdDSA"
    claims = _verify(
        token, better_auth.jwks(), issuer=chosen["iss"], audience="https://api.elsewhere.example"
    )
    assert claims == chosen  # no email, no name: only what was asked for

    # Left out, iss, aud and exp take Better Auth's defaults; iat stays out.
    defaults = _verify(
        better_auth.sign({"sub": "x", "email": "x@example.com"}),
        better_auth.jwks(),
        issuer=better_auth.url,
        audience=better_auth.url,
    )
    assert "iat" not in defaults
    assert abs(defaults["exp"] - (time.time() + 15 * 60)) < 60


def test_rotation_signs_with_a_new_key(better_auth: BetterAuthServer) -> None:
    before = better_auth.sign({"sub": "before"})
    old_kid = unverified_header(before)["kid"]

    new_kid = better_auth.rotate()
    assert new_kid != old_kid
    session = better_auth.sign_up(_email())
    after = better_auth.token(session)
    assert unverified_header(after)["kid"] == new_kid
    # Better Auth keeps a retired key in the set (its grace period): both still verify.
    keys = better_auth.jwks()
    assert {old_kid, new_kid} <= {key["kid"] for key in keys["keys"]}
    for token in (before, after):
        _verify(token, keys, issuer=better_auth.url, audience=better_auth.url)

    newest_kid = better_auth.rotate(remove_old=True)
    assert newest_kid not in {old_kid, new_kid}
    assert [key["kid"] for key in better_auth.jwks()["keys"]] == [newest_kid]
    assert unverified_header(better_auth.sign({"sub": "later"}))["kid"] == newest_kid


def test_the_key_set_can_be_taken_down_and_up(better_auth: BetterAuthServer) -> None:
    keys = better_auth.jwks()
    better_auth.jwks_down()
    assert httpx.get(better_auth.jwks_url).status_code == 503
    # Only the key set is down: Better Auth still signs users in and issues tokens.
    token = better_auth.token(better_auth.sign_up(_email()))
    better_auth.jwks_up()
    assert better_auth.jwks() == keys
    _verify(token, keys, issuer=better_auth.url, audience=better_auth.url)
