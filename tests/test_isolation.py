"""User isolation: another user's task answers exactly like a missing one, and stays unchanged."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import Account, create_task


@pytest.fixture
def bobs_task(client: TestClient, bob: Account) -> Any:
    return create_task(client, bob, "bob's secret", description="private")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"title": "hacked"}),
        ("PATCH", "", {"completed": True}),
        ("PATCH", "/toggle", None),
        ("DELETE", "", None),
    ],
)
def test_foreign_task_is_404_and_unchanged(
    client: TestClient,
    alice: Account,
    bob: Account,
    bobs_task: Any,
    method: str,
    suffix: str,
    body: Any,
) -> None:
    response = client.request(
        method, f"/api/tasks/{bobs_task['id']}{suffix}", json=body, headers=alice.headers
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found"}
    assert client.get(f"/api/tasks/{bobs_task['id']}", headers=bob.headers).json() == bobs_task


def test_listing_and_stats_show_only_own_tasks(
    client: TestClient, alice: Account, bobs_task: Any
) -> None:
    create_task(client, alice, "mine")
    listing = client.get("/api/tasks", headers=alice.headers)
    assert [task["title"] for task in listing.json()] == ["mine"]
    assert listing.headers["X-Total-Count"] == "1"
    stats = client.get("/api/tasks/stats", headers=alice.headers).json()
    assert stats["total"] == 1


def test_search_does_not_reach_other_users_tasks(
    client: TestClient, alice: Account, bobs_task: Any
) -> None:
    create_task(client, alice, "alice's secret")
    response = client.get("/api/tasks", params={"q": "secret"}, headers=alice.headers)
    assert [task["title"] for task in response.json()] == ["alice's secret"]
    assert response.headers["X-Total-Count"] == "1"
