"""REST `GET /api/tasks`: order, filters, search, paging and `X-Total-Count`."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import update

from app.settings import Settings
from models import Task
from tests.support import Account, create_task, database, user_id_of


def titles(client: TestClient, account: Account, **params: object) -> list[str]:
    response = client.get("/api/tasks", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


def test_default_order_is_incomplete_first_then_newest_first(
    client: TestClient, alice: Account
) -> None:
    ids = {title: create_task(client, alice, title)["id"] for title in ["a", "b", "c", "d"]}
    for title in ("a", "c"):
        client.patch(f"/api/tasks/{ids[title]}/toggle", headers=alice.headers)
    assert titles(client, alice) == ["d", "b", "c", "a"]


def test_equal_timestamps_fall_back_to_id_descending(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    for title in ("first", "second", "third"):
        create_task(client, alice, title)
    with database(settings) as session:
        session.exec(update(Task).values(created_at=datetime(2025, 1, 1, tzinfo=UTC)))
        session.commit()
    assert titles(client, alice) == ["third", "second", "first"]


def test_total_count_counts_matches_before_limit_and_offset(
    client: TestClient, alice: Account
) -> None:
    for index in range(7):
        create_task(client, alice, f"task {index}")
    response = client.get("/api/tasks", params={"limit": 2, "offset": 1}, headers=alice.headers)
    assert response.headers["X-Total-Count"] == "7"
    assert [task["title"] for task in response.json()] == ["task 5", "task 4"]


def test_offset_past_the_end_is_an_empty_page(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "only")
    response = client.get("/api/tasks", params={"offset": 5}, headers=alice.headers)
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "1"


def test_default_limit_is_100(client: TestClient, alice: Account, settings: Settings) -> None:
    with database(settings) as session:
        user_id = user_id_of(session, alice)
        session.add_all(Task(user_id=user_id, title=f"t{index}") for index in range(101))
        session.commit()
    response = client.get("/api/tasks", headers=alice.headers)
    assert len(response.json()) == 100
    assert response.headers["X-Total-Count"] == "101"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": -1},
        {"offset": -1},
        {"limit": "ten"},
        {"offset": 10**30},
        {"completed": "maybe"},
    ],
)
def test_out_of_range_paging_and_filters_are_400(
    client: TestClient, alice: Account, params: dict[str, object]
) -> None:
    response = client.get("/api/tasks", params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == next(iter(params))


def test_limit_500_is_accepted(client: TestClient, alice: Account) -> None:
    response = client.get("/api/tasks", params={"limit": 500}, headers=alice.headers)
    assert response.status_code == 200


def test_completed_filter(client: TestClient, alice: Account) -> None:
    done = create_task(client, alice, "done")
    create_task(client, alice, "open")
    client.patch(f"/api/tasks/{done['id']}/toggle", headers=alice.headers)
    assert titles(client, alice, completed="true") == ["done"]
    assert titles(client, alice, completed="false") == ["open"]
    response = client.get("/api/tasks", params={"completed": "true"}, headers=alice.headers)
    assert response.headers["X-Total-Count"] == "1"


def test_search_matches_title_or_description_case_insensitively(
    client: TestClient, alice: Account
) -> None:
    create_task(client, alice, "Buy MILK")
    create_task(client, alice, "errand", description="get milk too")
    create_task(client, alice, "other")
    assert sorted(titles(client, alice, q="milk")) == ["Buy MILK", "errand"]


@pytest.mark.parametrize(
    ("stored", "query"),
    [("ÄPFEL kaufen", "äpfel"), ("Ωμέγα", "ΩΜΈΓΑ"), ("ÇAĞ", "çağ"), ("Жёлтый", "ЖЁЛ")],
)
def test_search_folds_case_for_all_of_unicode(
    client: TestClient, alice: Account, stored: str, query: str
) -> None:
    create_task(client, alice, stored)
    assert titles(client, alice, q=query) == [stored]


@pytest.mark.parametrize("wildcard", ["%", "_", "\\"])
def test_search_matches_wildcards_literally(
    client: TestClient, alice: Account, wildcard: str
) -> None:
    create_task(client, alice, f"100{wildcard} done")
    create_task(client, alice, "plain words")
    assert titles(client, alice, q=wildcard) == [f"100{wildcard} done"]


def test_blank_search_matches_everything(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "a")
    assert titles(client, alice, q="  ") == ["a"]


def test_search_with_nul_is_400(client: TestClient, alice: Account) -> None:
    response = client.get("/api/tasks", params={"q": "a\x00"}, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "q"


def test_search_combines_with_completed_filter(client: TestClient, alice: Account) -> None:
    done = create_task(client, alice, "milk done")
    create_task(client, alice, "milk open")
    client.patch(f"/api/tasks/{done['id']}/toggle", headers=alice.headers)
    assert titles(client, alice, q="milk", completed="false") == ["milk open"]
