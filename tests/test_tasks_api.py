"""REST `/api/tasks`: the task routes of the contract, one behaviour per test."""

import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from app.factory import create_app
from app.settings import Settings
from tests.support import Account, create_task


def test_create_task_returns_201_with_trimmed_title_and_defaults(
    client: TestClient, alice: Account
) -> None:
    response = client.post("/api/tasks", json={"title": "  Buy milk \u00a0"}, headers=alice.headers)
    assert response.status_code == 201
    task = response.json()
    assert set(task) == {
        "id", "title", "description", "completed", "priority", "due_at", "tags", "version",
        "created_at", "updated_at",
    }  # fmt: skip
    assert task["title"] == "Buy milk"
    assert task["description"] == ""
    assert task["completed"] is False


def test_timestamps_are_rfc3339_utc(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    for name in ("created_at", "updated_at"):
        parsed = datetime.fromisoformat(task[name].replace("Z", "+00:00"))
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("title", ["", "   ", "\u00a0\u2003", "x" * 201])
def test_title_must_be_1_to_200_characters_after_trimming(
    client: TestClient, alice: Account, title: str
) -> None:
    response = client.post("/api/tasks", json={"title": title}, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "title"


def test_title_of_200_multibyte_characters_is_accepted(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "é" * 200)
    assert task["title"] == "é" * 200


def test_description_over_2000_characters_is_refused(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/tasks", json={"title": "t", "description": "d" * 2001}, headers=alice.headers
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "description", "message": "description must be at most 2000 characters"}
    ]


def test_missing_title_is_400_naming_the_field(client: TestClient, alice: Account) -> None:
    response = client.post("/api/tasks", json={"description": "x"}, headers=alice.headers)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert body["errors"][0]["field"] == "title"


@pytest.mark.parametrize("bad", [r"a\u0000b", r"\ud800", r"ok\udfff"])
def test_nul_and_lone_surrogates_are_refused_and_nothing_is_stored(
    client: TestClient, alice: Account, bad: str
) -> None:
    response = client.post(
        "/api/tasks",
        content=f'{{"title": "{bad}"}}'.encode(),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] in {"title", "body"}
    assert client.get("/api/tasks", headers=alice.headers).json() == []


def test_body_that_is_not_json_is_400_on_field_body(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/tasks",
        content=b"{not json",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


def test_body_that_is_not_utf8_is_400_on_field_body(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/tasks",
        content=b'{"title": "\xff\xfe"}',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


def test_deeply_nested_json_is_400_not_500(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/tasks",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"


def test_body_over_one_mebibyte_is_413(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/tasks",
        json={"title": "t", "description": "x" * (1024 * 1024)},
        headers=alice.headers,
    )
    assert response.status_code == 413
    assert "detail" in response.json()


def test_chunked_body_over_limit_is_413(client: TestClient, alice: Account) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
        for _ in range(20):
            yield b"x" * 65536

    response = client.post(
        "/api/tasks",
        content=chunks(),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_get_task_returns_the_task(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "read me")
    response = client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == task


def test_missing_task_is_404_task_not_found(client: TestClient, alice: Account) -> None:
    response = client.get("/api/tasks/424242", headers=alice.headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found"}


@pytest.mark.parametrize("task_id", ["0", "-1", "99999999999999999999999", "abc"])
def test_task_id_out_of_range_is_400_not_500(
    client: TestClient, alice: Account, task_id: str
) -> None:
    response = client.get(f"/api/tasks/{task_id}", headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "task_id"


def test_put_changes_only_the_fields_sent(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "old", description="keep me")
    response = client.put(
        f"/api/tasks/{task['id']}", json={"title": " new "}, headers=alice.headers
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "new"
    assert updated["description"] == "keep me"
    assert updated["completed"] is False
    assert updated["updated_at"] >= task["updated_at"]


def test_patch_is_the_same_partial_update(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t", description="d")
    response = client.patch(
        f"/api/tasks/{task['id']}", json={"completed": True}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["completed"] is True
    assert response.json()["title"] == "t"


@pytest.mark.parametrize("field", ["title", "completed"])
def test_explicit_null_title_or_completed_is_400(
    client: TestClient, alice: Account, field: str
) -> None:
    task = create_task(client, alice, "t")
    response = client.put(f"/api/tasks/{task['id']}", json={field: None}, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json() == task


def test_null_description_clears_it(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t", description="something")
    response = client.put(
        f"/api/tasks/{task['id']}", json={"description": None}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["description"] == ""


def test_invalid_update_changes_nothing(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    response = client.put(
        f"/api/tasks/{task['id']}",
        json={"title": "fine", "description": "x" * 2001},
        headers=alice.headers,
    )
    assert response.status_code == 400
    assert client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()["title"] == "t"


def test_toggle_flips_completed_both_ways(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    first = client.patch(f"/api/tasks/{task['id']}/toggle", headers=alice.headers)
    second = client.patch(f"/api/tasks/{task['id']}/toggle", headers=alice.headers)
    assert (first.status_code, first.json()["completed"]) == (200, True)
    assert (second.status_code, second.json()["completed"]) == (200, False)


def test_delete_answers_message_and_removes_the_task(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t")
    response = client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"message": "Task deleted successfully"}
    assert client.get(f"/api/tasks/{task['id']}", headers=alice.headers).status_code == 404


def test_stats_count_total_completed_and_pending(client: TestClient, alice: Account) -> None:
    for title in ("a", "b", "c"):
        create_task(client, alice, title)
    first = client.get("/api/tasks", headers=alice.headers).json()[0]
    client.patch(f"/api/tasks/{first['id']}/toggle", headers=alice.headers)
    response = client.get("/api/tasks/stats", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"total": 3, "completed": 1, "pending": 2}


def test_stats_of_a_new_user_are_zero(client: TestClient, alice: Account) -> None:
    response = client.get("/api/tasks/stats", headers=alice.headers)
    assert response.json() == {"total": 0, "completed": 0, "pending": 0}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", "/api/tasks/stats"),
        ("GET", "/api/tasks/1"),
        ("PUT", "/api/tasks/1"),
        ("PATCH", "/api/tasks/1"),
        ("PATCH", "/api/tasks/1/toggle"),
        ("DELETE", "/api/tasks/1"),
    ],
)
def test_task_routes_need_an_access_token(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={"title": "t"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "detail" in response.json()


async def _slow_body() -> AsyncIterator[bytes]:
    """Thirteen bytes of a body, then nothing for longer than any test waits."""
    yield b'{"title": "ha'
    await anyio.sleep(60)
    yield b'lf"}'  # pragma: no cover - the server gives up first


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/tasks", "application/json"), ("/graphql", "application/json")],
    ids=["rest", "graphql"],
)
def test_a_body_that_stops_arriving_is_408_and_closes_the_connection(
    make_settings: Callable[..., Settings], alice: Account, path: str, content_type: str
) -> None:
    app = create_app(make_settings(request_body_timeout=0.3))
    headers = {**alice.headers, "Content-Type": content_type, "Content-Length": "1000000"}

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with anyio.fail_after(5):
                return await client.post(path, content=_slow_body(), headers=headers)

    started = time.monotonic()
    response = anyio.run(send)
    assert response.status_code == 408
    assert response.json() == {"detail": "The request body did not arrive within 0.3 seconds"}
    assert response.headers["Connection"] == "close"
    assert time.monotonic() - started < 3
