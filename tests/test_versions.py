"""REST: versions and conditional requests (contract: "Versions and conditional requests")."""

import threading

import pytest
from fastapi.testclient import TestClient

from tests.support import Account, create_task


def version_after(client: TestClient, account: Account, task_id: int) -> int:
    return int(client.get(f"/api/tasks/{task_id}", headers=account.headers).json()["version"])


def test_every_change_adds_one_to_the_version(client: TestClient, alice: Account) -> None:
    task_id = create_task(client, alice, "t")["id"]
    client.patch(f"/api/tasks/{task_id}", json={"title": "u"}, headers=alice.headers)
    assert version_after(client, alice, task_id) == 2
    client.patch(f"/api/tasks/{task_id}/toggle", headers=alice.headers)
    assert version_after(client, alice, task_id) == 3
    client.delete(f"/api/tasks/{task_id}", headers=alice.headers)
    restored = client.post(f"/api/trash/{task_id}/restore", headers=alice.headers).json()
    assert restored["version"] == 5


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/tasks/{id}", None),
        ("PUT", "/api/tasks/{id}", {"title": "u"}),
        ("PATCH", "/api/tasks/{id}", {"title": "u"}),
        ("PATCH", "/api/tasks/{id}/toggle", None),
    ],
)
def test_answers_that_carry_a_task_have_its_version_as_a_strong_etag(
    client: TestClient, alice: Account, method: str, path: str, body: object
) -> None:
    task = create_task(client, alice, "t")
    response = client.request(method, path.format(id=task["id"]), json=body, headers=alice.headers)
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'


def test_create_and_restore_answer_an_etag(client: TestClient, alice: Account) -> None:
    created = client.post("/api/tasks", json={"title": "t"}, headers=alice.headers)
    assert created.headers["ETag"] == '"1"'
    client.delete(f"/api/tasks/{created.json()['id']}", headers=alice.headers)
    restored = client.post(f"/api/trash/{created.json()['id']}/restore", headers=alice.headers)
    assert restored.headers["ETag"] == '"3"'


def test_get_with_if_none_match_of_the_current_version_is_304_without_body(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-None-Match": '"1"'}
    response = client.get(f"/api/tasks/{task['id']}", headers=headers)
    assert (response.status_code, response.content, response.headers["ETag"]) == (304, b"", '"1"')


def test_get_with_if_none_match_of_an_old_version_answers_the_task(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "t")
    client.patch(f"/api/tasks/{task['id']}", json={"title": "u"}, headers=alice.headers)
    headers = {**alice.headers, "If-None-Match": '"1"'}
    response = client.get(f"/api/tasks/{task['id']}", headers=headers)
    assert (response.status_code, response.json()["title"]) == (200, "u")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/tasks/{id}", {"title": "changed"}),
        ("PATCH", "/api/tasks/{id}", {"title": "changed"}),
        ("PATCH", "/api/tasks/{id}/toggle", None),
        ("DELETE", "/api/tasks/{id}", None),
    ],
)
def test_a_write_with_a_stale_if_match_is_412_with_the_current_version_and_changes_nothing(
    client: TestClient, alice: Account, method: str, path: str, body: object
) -> None:
    task = create_task(client, alice, "t")
    client.patch(f"/api/tasks/{task['id']}", json={"description": "v2"}, headers=alice.headers)
    headers = {**alice.headers, "If-Match": '"1"'}
    response = client.request(method, path.format(id=task["id"]), json=body, headers=headers)
    assert response.status_code == 412
    assert response.json() == {"detail": "Task has changed", "current_version": 2}
    now = client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()
    assert (now["title"], now["completed"], now["version"]) == ("t", False, 2)


def test_a_write_with_the_current_if_match_succeeds(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-Match": '"1"'}
    response = client.patch(f"/api/tasks/{task['id']}", json={"title": "u"}, headers=headers)
    assert (response.status_code, response.json()["version"]) == (200, 2)


def test_if_match_star_matches_any_existing_task(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-Match": "*"}
    assert client.patch(f"/api/tasks/{task['id']}/toggle", headers=headers).status_code == 200
    assert client.patch("/api/tasks/999999/toggle", headers=headers).status_code == 404


def test_if_match_with_a_list_matches_any_of_its_versions(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-Match": '"7", "1"'}
    assert client.patch(f"/api/tasks/{task['id']}/toggle", headers=headers).status_code == 200


def test_an_if_match_version_beyond_any_task_is_a_412(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-Match": '"9999999999"'}
    response = client.patch(f"/api/tasks/{task['id']}/toggle", headers=headers)
    assert (response.status_code, response.json()["current_version"]) == (412, 1)


def test_a_weak_etag_never_matches_if_match(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-Match": 'W/"1"'}
    assert client.patch(f"/api/tasks/{task['id']}/toggle", headers=headers).status_code == 412


@pytest.mark.parametrize("value", ["1", '"one"', '"1', "W/1", '"1" "2"'])
def test_a_malformed_if_match_is_a_400_on_if_match(
    client: TestClient, alice: Account, value: str
) -> None:
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-Match": value}
    response = client.patch(f"/api/tasks/{task['id']}/toggle", headers=headers)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["If-Match"]


def test_if_match_on_another_users_task_is_404_not_412(
    client: TestClient, alice: Account, bob: Account
) -> None:
    task = create_task(client, bob, "bob's")
    headers = {**alice.headers, "If-Match": '"5"'}
    assert client.patch(f"/api/tasks/{task['id']}/toggle", headers=headers).status_code == 404


def test_without_if_match_the_last_write_wins(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    client.patch(f"/api/tasks/{task['id']}", json={"title": "first"}, headers=alice.headers)
    response = client.patch(
        f"/api/tasks/{task['id']}", json={"title": "second"}, headers=alice.headers
    )
    assert (response.status_code, response.json()["title"]) == (200, "second")


def test_of_two_writers_with_the_same_if_match_exactly_one_succeeds(
    client: TestClient, alice: Account
) -> None:
    """Both read version 1; eight of them write at once with `If-Match: "1"`."""
    task = create_task(client, alice, "t")
    headers = {**alice.headers, "If-Match": '"1"'}
    statuses: list[int] = []
    start = threading.Barrier(8)

    def write(index: int) -> None:
        start.wait()
        body = {"title": f"writer {index}", "tags": [f"w{index}"]}
        statuses.append(
            client.patch(f"/api/tasks/{task['id']}", json=body, headers=headers).status_code
        )

    threads = [threading.Thread(target=write, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * 7
    final = client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()
    assert final["version"] == 2
    assert final["tags"] == [f"w{final['title'].split()[-1]}"]
