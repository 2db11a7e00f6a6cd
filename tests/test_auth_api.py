"""REST `/api/auth`: accounts, login, refresh rotation and logout."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.support import PASSWORD, Account, login, register, signup


def test_signup_returns_201_with_the_public_user(client: TestClient) -> None:
    response = client.post(
        "/api/auth/signup",
        json={"email": "  Ada@Example.COM ", "name": "  Ada Lovelace ", "password": PASSWORD},
    )
    assert response.status_code == 201
    user = response.json()
    assert set(user) == {"id", "email", "name", "created_at"}
    assert user["email"] == "ada@example.com"
    assert user["name"] == "Ada Lovelace"


def test_signup_of_a_registered_email_in_other_case_is_400(client: TestClient) -> None:
    signup(client, "ada@example.com")
    response = client.post(
        "/api/auth/signup",
        json={"email": "ADA@example.com", "name": "Ada", "password": PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Email already registered"
    assert response.json()["errors"][0]["field"] == "email"


FULLWIDTH = (
    "abc@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com"  # abc@example.com in fullwidth letters
)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("abc@example.com", FULLWIDTH),
        (FULLWIDTH, "ABC@example.com"),
        ("a@b\u00fccher.de", "a@xn--bcher-kva.de"),
        ("A@XN--BCHER-KVA.DE", "a@B\u00dcCHER.de"),
    ],
    ids=["ascii-then-fullwidth", "fullwidth-then-upper", "unicode-then-punycode", "upper-both"],
)
def test_every_spelling_of_an_address_is_one_account(
    client: TestClient, first: str, second: str
) -> None:
    created = signup(client, first)
    response = client.post(
        "/api/auth/signup", json={"email": second, "name": "Twin", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Email already registered"
    assert login(client, second).access_token
    assert created["email"] == created["email"].lower()


def test_the_stored_email_is_the_normal_form(client: TestClient) -> None:
    assert signup(client, FULLWIDTH)["email"] == "abc@example.com"
    assert signup(client, "X@XN--BCHER-KVA.DE")["email"] == "x@b\u00fccher.de"


def test_every_spelling_of_an_address_shares_one_throttle(
    client: TestClient, settings: Settings
) -> None:
    signup(client, "abc@example.com")
    wrong = "Wrong-password-1"
    spellings = [FULLWIDTH, "ABC@example.com", "abc@EXAMPLE.com", "abc@example.com", FULLWIDTH]
    statuses = [
        client.post("/api/auth/login", json={"email": email, "password": wrong}).status_code
        for email in spellings
    ]
    assert statuses == [401] * settings.login_max_failures
    right = client.post("/api/auth/login", json={"email": "abc@example.com", "password": PASSWORD})
    assert right.status_code == 429


@pytest.mark.parametrize(
    "password",
    ["Short1A", "alllowercase1", "ALLUPPERCASE1", "NoDigitsHere", "Ü" * 36 + "a1"],
)
def test_weak_or_too_long_password_is_400_on_field_password(
    client: TestClient, password: str
) -> None:
    response = client.post(
        "/api/auth/signup", json={"email": "a@example.com", "name": "A", "password": password}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"


def test_password_of_exactly_72_bytes_is_accepted(client: TestClient) -> None:
    password = "Aa1" + "x" * 69
    assert len(password.encode()) == 72
    signup(client, "a@example.com", password=password)
    assert login(client, "a@example.com", password=password).access_token


def test_password_of_73_bytes_is_a_clear_400_not_truncated(client: TestClient) -> None:
    password = "Aa1" + "x" * 70
    response = client.post(
        "/api/auth/signup", json={"email": "a@example.com", "name": "A", "password": password}
    )
    assert response.status_code == 400
    assert "72 bytes" in response.json()["errors"][0]["message"]


def test_login_with_password_over_72_bytes_is_400_not_500(client: TestClient) -> None:
    signup(client, "a@example.com")
    response = client.post(
        "/api/auth/login", json={"email": "a@example.com", "password": "A1" + "é" * 40}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", ""])
def test_bad_email_is_400_on_field_email(client: TestClient, email: str) -> None:
    response = client.post(
        "/api/auth/signup", json={"email": email, "name": "A", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"


@pytest.mark.parametrize("name", ["", "   ", "x" * 256, "a\u0000b"])
def test_name_must_be_1_to_255_storable_characters(client: TestClient, name: str) -> None:
    response = client.post(
        "/api/auth/signup", json={"email": "a@example.com", "name": name, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"


def test_login_returns_bearer_tokens_valid_for_900_seconds(client: TestClient) -> None:
    signup(client, "a@example.com")
    response = client.post("/api/auth/login", json={"email": "A@example.com", "password": PASSWORD})
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900


@pytest.mark.parametrize("email", ["a@example.com", "nobody@example.com"])
def test_wrong_password_and_unknown_email_get_the_same_401(client: TestClient, email: str) -> None:
    signup(client, "a@example.com")
    response = client.post("/api/auth/login", json={"email": email, "password": "Wrong-pass-1"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid credentials"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_me_returns_the_caller(client: TestClient, alice: Account) -> None:
    response = client.get("/api/auth/me", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["email"] == alice.email
    assert "password_hash" not in response.json()


def test_refresh_returns_new_tokens_and_retires_the_old_one(
    client: TestClient, alice: Account
) -> None:
    response = client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert response.status_code == 200
    new = response.json()
    assert new["refresh_token"] != alice.refresh_token
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert me.status_code == 200


def _refresh(client: TestClient, token: str) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_replaying_a_retired_refresh_token_revokes_the_whole_chain(
    client: TestClient, alice: Account
) -> None:
    """Replayed after its successor was used, so no grace applies (tests/test_refresh_grace.py)."""
    second = _refresh(client, alice.refresh_token).json()["refresh_token"]
    third = _refresh(client, second).json()["refresh_token"]
    assert _refresh(client, alice.refresh_token).status_code == 401
    assert _refresh(client, third).status_code == 401


def test_reuse_revokes_only_its_own_chain(client: TestClient, alice: Account) -> None:
    other_session = login(client, alice.email)
    second = _refresh(client, alice.refresh_token).json()["refresh_token"]
    _refresh(client, second)
    assert _refresh(client, alice.refresh_token).status_code == 401  # a replay: theft
    assert _refresh(client, other_session.refresh_token).status_code == 200


def test_access_token_cannot_be_used_to_refresh(client: TestClient, alice: Account) -> None:
    response = client.post("/api/auth/refresh", json={"refresh_token": alice.access_token})
    assert response.status_code == 401


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_malformed_refresh_token_is_401_or_400(client: TestClient, token: str) -> None:
    response = client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code == (400 if not token else 401)


def test_logout_revokes_the_refresh_token(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/auth/logout", json={"refresh_token": alice.refresh_token}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out successfully"}
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 401


def test_logging_out_ends_the_session_at_once(client: TestClient, alice: Account) -> None:
    """Contract, Sessions: logout takes effect at once for the access tokens already issued, so
    a second logout with the same access token is a 401 (the first answered 200)."""
    body = {"refresh_token": alice.refresh_token}
    first = client.post("/api/auth/logout", json=body, headers=alice.headers)
    again = client.post("/api/auth/logout", json=body, headers=alice.headers)
    assert (first.status_code, again.status_code) == (200, 401)
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 401


def test_logout_needs_an_access_token(client: TestClient, alice: Account) -> None:
    response = client.post("/api/auth/logout", json={"refresh_token": alice.refresh_token})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_logout_with_another_users_refresh_token_is_401(
    client: TestClient, alice: Account, bob: Account
) -> None:
    response = client.post(
        "/api/auth/logout", json={"refresh_token": bob.refresh_token}, headers=alice.headers
    )
    assert response.status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": bob.refresh_token}).is_success


def test_signup_does_not_log_in(client: TestClient) -> None:
    body = signup(client, "a@example.com")
    assert "access_token" not in body


def test_registered_account_can_log_in_again(client: TestClient) -> None:
    account = register(client, "a@example.com")
    assert login(client, account.email).access_token != ""
