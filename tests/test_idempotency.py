"""REST: safe retries of `POST /api/tasks` with `Idempotency-Key` (contract: "Safe retries")."""

from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import update

from app.settings import Settings
from models import IdempotencyKey
from models.utc import utcnow
from tests.support import Account, database


def post(client: TestClient, account: Account, key: str, body: object) -> httpx.Response:
    headers = {**account.headers, "Idempotency-Key": key}
    return client.post("/api/tasks", json=body, headers=headers)


def titles(client: TestClient, account: Account) -> list[str]:
    return [task["title"] for task in client.get("/api/tasks", headers=account.headers).json()]


def test_the_first_request_with_a_key_creates_the_task(client: TestClient, alice: Account) -> None:
    response = post(client, alice, "key-1", {"title": "once"})
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert titles(client, alice) == ["once"]


def test_a_repeat_with_the_same_body_answers_the_same_and_creates_nothing(
    client: TestClient, alice: Account
) -> None:
    first = post(client, alice, "key-1", {"title": "once", "tags": ["a"]})
    again = post(client, alice, "key-1", {"title": "once", "tags": ["a"]})
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert titles(client, alice) == ["once"]


def test_a_repeat_answers_the_first_answer_even_after_the_task_changed(
    client: TestClient, alice: Account
) -> None:
    first = post(client, alice, "key-1", {"title": "once"})
    client.patch(
        f"/api/tasks/{first.json()['id']}", json={"title": "renamed"}, headers=alice.headers
    )
    assert post(client, alice, "key-1", {"title": "once"}).json() == first.json()


def test_a_repeat_with_another_body_is_409_and_creates_nothing(
    client: TestClient, alice: Account
) -> None:
    post(client, alice, "key-1", {"title": "once"})
    response = post(client, alice, "key-1", {"title": "something else"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Idempotency-Key was already used with a different request"
    }
    assert titles(client, alice) == ["once"]


def test_keys_are_per_user(client: TestClient, alice: Account, bob: Account) -> None:
    post(client, alice, "shared", {"title": "alice's"})
    response = post(client, bob, "shared", {"title": "bob's"})
    assert (response.status_code, "Idempotent-Replayed" in response.headers) == (201, False)
    assert titles(client, bob) == ["bob's"]


def test_a_key_expires_after_24_hours(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    post(client, alice, "key-1", {"title": "once"})
    with database(settings) as session:
        session.exec(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    response = post(client, alice, "key-1", {"title": "once"})
    assert (response.status_code, "Idempotent-Replayed" in response.headers) == (201, False)
    assert titles(client, alice) == ["once", "once"]


def test_a_failed_request_is_not_remembered(client: TestClient, alice: Account) -> None:
    assert post(client, alice, "key-1", {"title": ""}).status_code == 400
    response = post(client, alice, "key-1", {"title": "fixed"})
    assert (response.status_code, "Idempotent-Replayed" in response.headers) == (201, False)


@pytest.mark.parametrize("key", [b"", b"with space", "é".encode(), b"x" * 256, b"tab\there"])
def test_an_invalid_key_is_a_400_on_the_header(
    client: TestClient, alice: Account, key: bytes
) -> None:
    headers: dict[str, str | bytes] = {**alice.headers, "Idempotency-Key": key}
    response = client.post("/api/tasks", json={"title": "t"}, headers=headers)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["Idempotency-Key"]
    assert titles(client, alice) == []


def test_a_key_of_255_visible_characters_is_accepted(client: TestClient, alice: Account) -> None:
    assert post(client, alice, "~" * 255, {"title": "t"}).status_code == 201
