"""Deleting the account (contract: Authentication, "Sessions"): the password is asked for, and
the user goes with everything of theirs in one transaction, their tokens stopping at once;
nobody else's data is touched; on both doors."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlmodel import SQLModel, col

from app.settings import Settings
from models import IdempotencyKey, LoginSession, RefreshToken, Tag, Task, TaskTag, User
from tests.support import Account, create_task, database, error_codes, graphql, login, signup
from tests.test_sessions import works_on_both_doors

DELETE_ACCOUNT = "mutation($password: String!) { deleteAccount(password: $password) }"


def delete_account(client: TestClient, account: Account, password: str) -> Response:
    return client.request(
        "DELETE", "/api/auth/me", json={"password": password}, headers=account.headers
    )


def fill(client: TestClient, account: Account) -> None:
    """Something of every kind an account owns: tasks with tags, the trash, an idempotency key."""
    create_task(client, account, "kept", tags=["home", "work"])
    trashed = create_task(client, account, "trashed", tags=["home"])
    client.delete(f"/api/tasks/{trashed['id']}", headers=account.headers)
    headers = {**account.headers, "Idempotency-Key": "once"}
    assert client.post("/api/tasks", json={"title": "keyed"}, headers=headers).status_code == 201


def rows_of(settings: Settings, user_id: uuid.UUID) -> dict[str, int]:
    """How many rows of each table belong to the user (task_tags through their tasks)."""
    owned: dict[str, Any] = {
        "users": User.id == user_id,
        "tasks": Task.user_id == user_id,
        "tags": Tag.user_id == user_id,
        "task_tags": col(TaskTag.task_id).in_(
            select(col(Task.id)).where(col(Task.user_id) == user_id)
        ),
        "sessions": LoginSession.user_id == user_id,
        "refresh_tokens": RefreshToken.user_id == user_id,
        "idempotency_keys": IdempotencyKey.user_id == user_id,
    }
    tables = SQLModel.metadata.tables
    with database(settings) as session:
        return {
            name: session.execute(
                select(func.count()).select_from(tables[name]).where(where)
            ).scalar_one()
            for name, where in owned.items()
        }


def user_id(client: TestClient, account: Account) -> uuid.UUID:
    return uuid.UUID(client.get("/api/auth/me", headers=account.headers).json()["id"])


def test_deleting_the_account_answers_account_deleted(client: TestClient, alice: Account) -> None:
    response = delete_account(client, alice, alice.password)
    assert (response.status_code, response.json()) == (200, {"message": "Account deleted"})


def test_deleting_the_account_removes_everything_of_it(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    fill(client, alice)
    alice_id = user_id(client, alice)
    assert all(count > 0 for count in rows_of(settings, alice_id).values())
    delete_account(client, alice, alice.password)
    assert rows_of(settings, alice_id) == dict.fromkeys(rows_of(settings, alice_id), 0)


def test_deleting_the_account_leaves_other_users_untouched(
    client: TestClient, alice: Account, bob: Account, settings: Settings
) -> None:
    fill(client, alice)
    fill(client, bob)
    bob_id = user_id(client, bob)
    before = rows_of(settings, bob_id)
    delete_account(client, alice, alice.password)
    assert rows_of(settings, bob_id) == before
    assert works_on_both_doors(client, bob)
    titles = [task["title"] for task in client.get("/api/tasks", headers=bob.headers).json()]
    assert sorted(titles) == ["kept", "keyed"]


def test_deleting_the_account_stops_every_session_at_once(
    client: TestClient, alice: Account
) -> None:
    other = login(client, alice.email)
    delete_account(client, alice, alice.password)
    assert not works_on_both_doors(client, alice)
    assert not works_on_both_doors(client, other)
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": other.refresh_token})
    assert refreshed.status_code == 401


def test_the_email_of_a_deleted_account_can_sign_up_again(
    client: TestClient, alice: Account
) -> None:
    delete_account(client, alice, alice.password)
    signup(client, alice.email)
    again = login(client, alice.email)
    assert client.get("/api/tasks", headers=again.headers).json() == []


def test_a_wrong_password_is_401_and_deletes_nothing(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    fill(client, alice)
    before = rows_of(settings, user_id(client, alice))
    response = delete_account(client, alice, "Wrong-Horse-1")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid credentials"})
    assert rows_of(settings, user_id(client, alice)) == before


def test_a_wrong_password_counts_as_a_failed_login(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        assert delete_account(client, alice, "Wrong-Horse-1").status_code == 401
    body = {"email": alice.email, "password": alice.password}
    assert client.post("/api/auth/login", json=body).status_code == 429


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": 123}, ["password"]])
def test_a_missing_or_malformed_password_is_a_400(
    client: TestClient, alice: Account, body: Any
) -> None:
    response = client.request("DELETE", "/api/auth/me", json=body, headers=alice.headers)
    assert response.status_code == 400
    assert works_on_both_doors(client, alice)


def test_delete_account_through_graphql(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    fill(client, alice)
    alice_id = user_id(client, alice)
    body = graphql(client, DELETE_ACCOUNT, {"password": alice.password}, account=alice)
    assert body == {"data": {"deleteAccount": True}}
    assert rows_of(settings, alice_id)["users"] == 0
    assert not works_on_both_doors(client, alice)


def test_a_wrong_password_through_graphql_is_unauthenticated(
    client: TestClient, alice: Account
) -> None:
    body = graphql(client, DELETE_ACCOUNT, {"password": "Wrong-Horse-1"}, account=alice)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert works_on_both_doors(client, alice)
