"""Only a valid access token of an existing user authenticates a request."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import col, delete

from app import authentication
from app.security import TOKEN_EXPIRED
from app.settings import Settings
from models import User
from tests.conftest import TEST_SECRET
from tests.support import Account, database, login, user_id_of


def claims(user_id: uuid.UUID, **overrides: object) -> dict[str, object]:
    """Access token claims; `sid` names no live session unless given one."""
    now = datetime.now(UTC)
    return {
        "sub": str(user_id),
        "type": "access",
        "jti": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }


@pytest.fixture
def alice_id(alice: Account, settings: Settings) -> uuid.UUID:
    with database(settings) as session:
        return user_id_of(session, alice)


def assert_rejected(client: TestClient, token: str) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


def session_of(account: Account) -> str:
    return str(jwt.decode(account.access_token, options={"verify_signature": False})["sid"])


def test_a_well_formed_access_token_is_accepted(
    client: TestClient, alice: Account, alice_id: uuid.UUID
) -> None:
    token = jwt.encode(claims(alice_id, sid=session_of(alice)), TEST_SECRET, algorithm="HS256")
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_an_access_token_of_no_live_session_is_401(client: TestClient, alice_id: uuid.UUID) -> None:
    """Signed with the right key, for an existing user, but of a session that does not exist."""
    assert_rejected(client, jwt.encode(claims(alice_id), TEST_SECRET, algorithm="HS256"))


def test_an_access_token_without_a_session_is_401(
    client: TestClient, alice: Account, alice_id: uuid.UUID
) -> None:
    """Tokens issued before sessions existed carry none: refresh for a new one."""
    payload = claims(alice_id)
    del payload["sid"]
    assert_rejected(client, jwt.encode(payload, TEST_SECRET, algorithm="HS256"))


def test_refresh_token_does_not_authenticate(client: TestClient, alice: Account) -> None:
    assert_rejected(client, alice.refresh_token)


def test_token_signed_with_another_key_is_401(client: TestClient, alice_id: uuid.UUID) -> None:
    assert_rejected(client, jwt.encode(claims(alice_id), "another-key" * 4, algorithm="HS256"))


def test_token_with_another_algorithm_is_401(client: TestClient, alice_id: uuid.UUID) -> None:
    assert_rejected(client, jwt.encode(claims(alice_id), TEST_SECRET, algorithm="HS512"))


def test_alg_none_token_is_401(client: TestClient, alice_id: uuid.UUID) -> None:
    unsigned = jwt.encode(claims(alice_id), None, algorithm="none")  # type: ignore[arg-type]
    assert_rejected(client, unsigned)


def test_expired_token_is_401(client: TestClient, alice_id: uuid.UUID) -> None:
    expired = claims(alice_id, exp=datetime.now(UTC) - timedelta(seconds=1))
    assert_rejected(client, jwt.encode(expired, TEST_SECRET, algorithm="HS256"))


@pytest.mark.parametrize("missing", ["exp", "type", "sub"])
def test_token_missing_a_required_claim_is_401(
    client: TestClient, alice_id: uuid.UUID, missing: str
) -> None:
    payload = claims(alice_id)
    del payload[missing]
    assert_rejected(client, jwt.encode(payload, TEST_SECRET, algorithm="HS256"))


def test_token_with_a_non_uuid_subject_is_401(client: TestClient, alice_id: uuid.UUID) -> None:
    assert_rejected(client, jwt.encode(claims(alice_id, sub="42"), TEST_SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    "impossible",
    [{"exp": 10**20}, {"exp": 1e300}, {"iat": -(10**20)}, {"iat": 10**20}, {"nbf": 10**20}],
    ids=["exp-1e20", "exp-1e300", "iat-before-the-calendar", "iat-after-it", "nbf-after-it"],
)
def test_signed_token_with_claims_outside_the_calendar_is_401(
    client: TestClient, alice_id: uuid.UUID, impossible: dict[str, object]
) -> None:
    assert_rejected(client, jwt.encode(claims(alice_id, **impossible), TEST_SECRET, "HS256"))


def test_token_of_a_deleted_user_is_401(
    client: TestClient, alice: Account, alice_id: uuid.UUID, settings: Settings
) -> None:
    with database(settings) as session:
        session.exec(delete(User).where(col(User.id) == alice_id))
        session.commit()
    assert_rejected(client, alice.access_token)


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "bearer-token", ""])
def test_malformed_authorization_header_is_401(client: TestClient, header: str) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_deleting_a_user_deletes_their_tasks_and_tokens(
    client: TestClient, alice: Account, alice_id: uuid.UUID, settings: Settings
) -> None:
    from sqlmodel import func, select

    from models import RefreshToken, Task

    client.post("/api/tasks", json={"title": "t"}, headers=alice.headers)
    with database(settings) as session:
        session.exec(delete(User).where(col(User.id) == alice_id))
        session.commit()
        assert session.exec(select(func.count()).select_from(Task)).one() == 0
        assert session.exec(select(func.count()).select_from(RefreshToken)).one() == 0


def test_a_remembered_token_is_refused_from_its_expiry_on(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Own tokens are verified once and remembered (app.authentication); expiry still counts."""
    me = {"Authorization": f"Bearer {alice.access_token}"}
    assert client.get("/api/auth/me", headers=me).status_code == 200  # now remembered
    expires = jwt.decode(alice.access_token, options={"verify_signature": False})["exp"]
    at_expiry = datetime.fromtimestamp(expires, tz=UTC)
    monkeypatch.setattr("app.authentication.utcnow", lambda: at_expiry)
    response = client.get("/api/auth/me", headers=me)
    assert response.status_code == 401
    assert response.json()["detail"] == TOKEN_EXPIRED


def test_a_remembered_token_of_an_ended_session_is_401(client: TestClient, alice: Account) -> None:
    me = {"Authorization": f"Bearer {alice.access_token}"}
    assert client.get("/api/auth/me", headers=me).status_code == 200  # now remembered
    logout = client.post(
        "/api/auth/logout", json={"refresh_token": alice.refresh_token}, headers=me
    )
    assert logout.status_code == 200
    assert_rejected(client, alice.access_token)


def test_at_most_so_many_own_tokens_are_remembered(
    client: TestClient, app: FastAPI, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(authentication, "REMEMBERED_TOKENS", 2)
    tokens = [login(client, alice.email).access_token for _ in range(4)]
    for token in tokens:
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
    assert len(app.state.runtime.authenticator._own) == 2
    forgotten = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert forgotten.status_code == 200  # verified again, as at first sight
