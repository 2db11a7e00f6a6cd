"""Task ids are never reused, not after a purge either (contract: "Data", Task `id`)."""

from fastapi.testclient import TestClient

from tests.support import Account, create_task


def purged(client: TestClient, account: Account, task_id: int) -> None:
    """Move the task to the trash, then delete it for good."""
    assert client.delete(f"/api/tasks/{task_id}", headers=account.headers).status_code == 200
    assert client.delete(f"/api/trash/{task_id}", headers=account.headers).status_code == 200


def test_a_purged_tasks_id_is_not_given_to_the_next_task_another_users(
    client: TestClient, alice: Account, bob: Account
) -> None:
    alices = create_task(client, alice, "the newest task of all")["id"]
    purged(client, alice, alices)
    bobs = create_task(client, bob, "next")["id"]
    assert bobs > alices


def test_an_idempotency_key_replay_of_a_purged_task_does_not_answer_another_users_task(
    client: TestClient, alice: Account, bob: Account
) -> None:
    headers = {**alice.headers, "Idempotency-Key": "key-1"}
    first = client.post("/api/tasks", json={"title": "once"}, headers=headers)
    purged(client, alice, first.json()["id"])
    bobs = create_task(client, bob, "bob's")

    replay = client.post("/api/tasks", json={"title": "once"}, headers=headers)

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert replay.json()["id"] != bobs["id"]
    assert client.get(f"/api/tasks/{bobs['id']}", headers=bob.headers).json() == bobs
