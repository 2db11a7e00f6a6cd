"""REST: the trash (contract: "The trash"), and its retention."""

import time
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import update

from app.factory import create_app
from app.services.trash import purge_expired
from app.settings import Settings
from app.statements import Runner
from models import Task
from models.utc import utcnow
from tests.support import Account, create_task, database


def trash(client: TestClient, account: Account) -> list[str]:
    response = client.get("/api/trash", headers=account.headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


def trashed(client: TestClient, account: Account, title: str, **fields: object) -> int:
    task_id = int(create_task(client, account, title, **fields)["id"])
    response = client.delete(f"/api/tasks/{task_id}", headers=account.headers)
    assert response.json() == {"message": "Task deleted successfully"}
    return task_id


def test_a_deleted_task_is_absent_from_every_read_of_live_tasks(
    client: TestClient, alice: Account
) -> None:
    task_id = trashed(client, alice, "gone", tags=["t"])
    assert client.get("/api/tasks", headers=alice.headers).json() == []
    assert client.get(f"/api/tasks/{task_id}", headers=alice.headers).status_code == 404
    assert client.get("/api/tasks/stats", headers=alice.headers).json()["total"] == 0
    assert client.get("/api/tags", headers=alice.headers).json() == []
    assert client.patch(f"/api/tasks/{task_id}/toggle", headers=alice.headers).status_code == 404
    assert client.delete(f"/api/tasks/{task_id}", headers=alice.headers).status_code == 404


def test_trash_lists_deleted_tasks_most_recently_deleted_first_with_deleted_at(
    client: TestClient, alice: Account
) -> None:
    trashed(client, alice, "first")
    trashed(client, alice, "second")
    response = client.get("/api/trash", headers=alice.headers)
    assert [task["title"] for task in response.json()] == ["second", "first"]
    assert response.headers["X-Total-Count"] == "2"
    assert all(task["deleted_at"].endswith("Z") for task in response.json())


def test_trash_pages_with_limit_and_offset(client: TestClient, alice: Account) -> None:
    for index in range(3):
        trashed(client, alice, f"t{index}")
    response = client.get("/api/trash", params={"limit": 1, "offset": 1}, headers=alice.headers)
    assert [task["title"] for task in response.json()] == ["t1"]
    assert response.headers["X-Total-Count"] == "3"


def test_restore_brings_the_task_back_with_its_tags_one_version_more(
    client: TestClient, alice: Account
) -> None:
    task_id = trashed(client, alice, "back", tags=["Keep"])
    response = client.post(f"/api/trash/{task_id}/restore", headers=alice.headers)
    assert response.status_code == 200
    restored = response.json()
    assert (restored["title"], restored["tags"], restored["version"]) == ("back", ["Keep"], 3)
    assert "deleted_at" not in restored
    assert trash(client, alice) == []
    assert client.get("/api/tags", headers=alice.headers).json() == [
        {"name": "Keep", "task_count": 1}
    ]


def test_restore_of_a_task_not_in_the_callers_trash_is_404(
    client: TestClient, alice: Account, bob: Account
) -> None:
    live = create_task(client, alice, "live")["id"]
    bobs = trashed(client, bob, "bob's")
    for task_id in (live, bobs, 999_999):
        response = client.post(f"/api/trash/{task_id}/restore", headers=alice.headers)
        assert (response.status_code, response.json()) == (404, {"detail": "Task not found"})
    assert trash(client, bob) == ["bob's"]


def test_purge_deletes_a_trashed_task_for_good(client: TestClient, alice: Account) -> None:
    task_id = trashed(client, alice, "gone", tags=["t"])
    response = client.delete(f"/api/trash/{task_id}", headers=alice.headers)
    assert response.json() == {"message": "Task deleted permanently"}
    assert trash(client, alice) == []
    assert client.post(f"/api/trash/{task_id}/restore", headers=alice.headers).status_code == 404


def test_purge_of_a_live_or_foreign_task_is_404_and_keeps_it(
    client: TestClient, alice: Account, bob: Account
) -> None:
    live = create_task(client, alice, "live")["id"]
    bobs = trashed(client, bob, "bob's")
    assert client.delete(f"/api/trash/{live}", headers=alice.headers).status_code == 404
    assert client.delete(f"/api/trash/{bobs}", headers=alice.headers).status_code == 404
    assert client.get(f"/api/tasks/{live}", headers=alice.headers).status_code == 200
    assert trash(client, bob) == ["bob's"]


def test_empty_trash_purges_only_the_callers_trash_and_says_how_many(
    client: TestClient, alice: Account, bob: Account
) -> None:
    trashed(client, alice, "a")
    trashed(client, alice, "b")
    create_task(client, alice, "live")
    trashed(client, bob, "bob's")
    response = client.delete("/api/trash", headers=alice.headers)
    assert response.json() == {"purged": 2}
    assert trash(client, alice) == []
    assert trash(client, bob) == ["bob's"]
    assert [task["title"] for task in client.get("/api/tasks", headers=alice.headers).json()] == [
        "live"
    ]


def test_trash_routes_need_a_token(client: TestClient) -> None:
    assert client.get("/api/trash").status_code == 401
    assert client.delete("/api/trash").status_code == 401
    assert client.post("/api/trash/1/restore").status_code == 401


def move_to_the_past(settings: Settings, task_id: int, days: int) -> None:
    with database(settings) as session:
        deleted_at = utcnow() - timedelta(days=days)
        session.exec(update(Task).where(Task.id == task_id).values(deleted_at=deleted_at))  # type: ignore[arg-type]
        session.commit()


def test_purge_expired_removes_tasks_trashed_longer_than_the_retention_only(
    client: TestClient, alice: Account, settings: Settings, runner: Runner
) -> None:
    move_to_the_past(settings, trashed(client, alice, "old"), days=31)
    trashed(client, alice, "recent")
    create_task(client, alice, "live")
    assert purge_expired(runner, now=utcnow(), retention=timedelta(days=30)) == 1
    assert trash(client, alice) == ["recent"]
    assert len(client.get("/api/tasks", headers=alice.headers).json()) == 1


def test_purge_expired_follows_the_clock_it_is_given(
    client: TestClient, alice: Account, runner: Runner
) -> None:
    trashed(client, alice, "t")
    thirty_days = timedelta(days=30)
    assert purge_expired(runner, now=utcnow() + timedelta(days=29), retention=thirty_days) == 0
    assert purge_expired(runner, now=utcnow() + timedelta(days=31), retention=thirty_days) == 1
    assert trash(client, alice) == []


def test_the_service_purges_expired_trash_on_its_own_schedule(
    make_settings: Callable[..., Settings], alice: Account, client: TestClient
) -> None:
    """A second app on the same database, purging every 50 ms, with nobody asking it to."""
    settings = make_settings(trash_retention_days=30, trash_purge_interval_seconds=0.05)
    move_to_the_past(settings, trashed(client, alice, "old"), days=31)
    trashed(client, alice, "recent")
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 10
        while trash(client, alice) != ["recent"] and time.monotonic() < deadline:
            time.sleep(0.05)
    assert trash(client, alice) == ["recent"]
