"""Writes are limited per user (contract: "Writes are limited per user"): at most
USER_WRITES_PER_MINUTE creates, updates, toggles, deletes, restores and purges a minute, counted
across doors and instances; past it REST answers 429 with Retry-After, GraphQL RATE_LIMITED, and
nothing is written."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.factory import create_app
from app.settings import Settings
from tests.support import Account, create_task, error_codes, graphql, register

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(user_writes_per_minute=3)


def live_tasks(client: TestClient, account: Account) -> int:
    return int(client.get("/api/tasks", headers=account.headers).headers["X-Total-Count"])


def rest_create(client: TestClient, account: Account, title: str = "t") -> Any:
    return client.post("/api/tasks", json={"title": title}, headers=account.headers)


def test_a_write_past_the_limit_is_a_429_with_retry_after_and_writes_nothing(
    client: TestClient, alice: Account
) -> None:
    for _ in range(3):
        create_task(client, alice, "allowed")
    refused = rest_create(client, alice, "refused")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many changes" in refused.json()["detail"]
    assert live_tasks(client, alice) == 3


def test_graphql_writes_count_with_rest_ones_and_are_refused_with_rate_limited(
    client: TestClient, alice: Account
) -> None:
    create_task(client, alice, "rest")
    create_task(client, alice, "rest")
    created = 'mutation { createTask(input: {title: "graphql"}) { id } }'
    assert "errors" not in graphql(client, created, account=alice)
    body = graphql(client, created, account=alice)
    assert error_codes(body) == ["RATE_LIMITED"]
    assert body["errors"][0]["extensions"]["retryAfter"] >= 1
    assert live_tasks(client, alice) == 3


def test_every_kind_of_write_counts(alice_and_client: tuple[TestClient, Account]) -> None:
    client, alice = alice_and_client
    headers = alice.headers
    first = create_task(client, alice, "one")["id"]  # 1: create
    assert client.patch(f"/api/tasks/{first}", json={"title": "two"}, headers=headers).is_success
    assert client.patch(f"/api/tasks/{first}/toggle", headers=headers).is_success
    assert client.delete(f"/api/tasks/{first}", headers=headers).is_success
    assert client.post(f"/api/trash/{first}/restore", headers=headers).is_success
    assert client.delete(f"/api/tasks/{first}", headers=headers).is_success
    assert client.delete(f"/api/trash/{first}", headers=headers).is_success  # 7: purge
    assert client.delete("/api/trash", headers=headers).is_success  # 8: empty the trash
    assert rest_create(client, alice).status_code == 429


@pytest.fixture
def alice_and_client(
    make_settings: Callable[..., Settings],
) -> Iterator[tuple[TestClient, Account]]:
    with TestClient(create_app(make_settings(user_writes_per_minute=8))) as client:
        yield client, register(client, "alice@example.com")


def test_reads_do_not_count(client: TestClient, alice: Account) -> None:
    for _ in range(10):
        assert client.get("/api/tasks", headers=alice.headers).status_code == 200
        assert "errors" not in graphql(client, "{ tasks { totalCount } }", account=alice)
    for _ in range(3):
        create_task(client, alice, "allowed")


def test_each_user_has_a_limit_of_their_own(
    client: TestClient, alice: Account, bob: Account
) -> None:
    for _ in range(3):
        create_task(client, alice, "alice's")
    assert rest_create(client, alice).status_code == 429
    assert rest_create(client, bob).status_code == 201


def test_zero_turns_the_limit_off(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(user_writes_per_minute=0))) as client:
        alice = register(client, "alice@example.com")
        for _ in range(25):
            create_task(client, alice, "unlimited")
        assert live_tasks(client, alice) == 25


def test_writes_are_counted_across_instances_sharing_a_store(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(user_writes_per_minute=3, rate_limit_storage_url=REDIS_URL)
    with (
        TestClient(create_app(settings)) as one,
        TestClient(create_app(settings)) as other,
    ):
        alice = register(one, "alice@example.com")  # a new user id: a count of her own
        create_task(one, alice, "one")
        create_task(other, alice, "other")
        create_task(one, alice, "one")
        assert rest_create(other, alice).status_code == 429
        assert live_tasks(one, alice) == 3
