"""The refresh grace: the refresh token that was just rotated, presented again within
REFRESH_REUSE_GRACE_SECONDS, answers its successor again (the same refresh token, a fresh access
token); later, or once the successor was used, it is theft and its chain is revoked."""

import uuid
from datetime import timedelta
from typing import Any

import jwt
from fastapi.testclient import TestClient
from sqlmodel import col, update

from app.settings import Settings
from models import RefreshToken
from tests.conftest import TEST_SECRET
from tests.support import Account, database, graphql


def refresh(client: TestClient, token: str) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def _age_rotation(settings: Settings, token: str, seconds: float) -> None:
    """Move the rotation of `token` `seconds` into the past: the clock of the grace."""
    token_id = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])["jti"]
    with database(settings) as session:
        record = session.get(RefreshToken, uuid.UUID(token_id))
        assert record is not None
        assert record.revoked_at is not None
        session.exec(
            update(RefreshToken)
            .where(col(RefreshToken.id) == record.id)
            .values(revoked_at=record.revoked_at - timedelta(seconds=seconds))
        )
        session.commit()


def test_a_double_submit_answers_the_same_successor(client: TestClient, alice: Account) -> None:
    first = refresh(client, alice.refresh_token).json()
    again = refresh(client, alice.refresh_token)
    assert again.status_code == 200
    assert again.json()["refresh_token"] == first["refresh_token"]
    me = client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {again.json()['access_token']}"}
    )
    assert me.status_code == 200


def test_the_successor_answered_twice_still_rotates_once(
    client: TestClient, alice: Account
) -> None:
    successor = refresh(client, alice.refresh_token).json()["refresh_token"]
    refresh(client, alice.refresh_token)
    assert refresh(client, successor).status_code == 200


def test_a_replay_after_the_grace_is_theft(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    successor = refresh(client, alice.refresh_token).json()["refresh_token"]
    _age_rotation(settings, alice.refresh_token, settings.refresh_reuse_grace_seconds + 1)
    assert refresh(client, alice.refresh_token).status_code == 401
    assert refresh(client, successor).status_code == 401  # the chain is revoked


def test_a_replay_just_inside_the_grace_is_not_theft(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    refresh(client, alice.refresh_token)
    _age_rotation(settings, alice.refresh_token, settings.refresh_reuse_grace_seconds - 1)
    assert refresh(client, alice.refresh_token).status_code == 200


def test_a_replay_after_the_successor_was_used_is_theft(client: TestClient, alice: Account) -> None:
    successor = refresh(client, alice.refresh_token).json()["refresh_token"]
    newest = refresh(client, successor).json()["refresh_token"]
    assert refresh(client, alice.refresh_token).status_code == 401
    assert refresh(client, newest).status_code == 401


def test_a_logged_out_token_gets_no_grace(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/auth/logout", json={"refresh_token": alice.refresh_token}, headers=alice.headers
    )
    assert response.status_code == 200
    assert refresh(client, alice.refresh_token).status_code == 401


def test_graphql_double_submit_answers_the_same_successor(
    client: TestClient, alice: Account
) -> None:
    mutation = "mutation ($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }"
    answers = [graphql(client, mutation, {"t": alice.refresh_token}) for _ in range(2)]
    tokens = {answer["data"]["refreshToken"]["refreshToken"] for answer in answers}
    assert len(tokens) == 1
