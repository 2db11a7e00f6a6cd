"""GraphQL `tasks`: keyset paging in the REST order, opaque cursors, a constant query count."""

import base64
import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.services.cursors import Position, encode_cursor
from app.settings import Settings
from tests.conftest import TEST_SECRET
from tests.support import Account, create_task, database, error_codes, graphql, user_id_of

PAGE = """
query($first: Int, $after: String, $filter: TaskFilter) {
  tasks(first: $first, after: $after, filter: $filter) {
    totalCount
    nodes { id title completed }
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def page(client: TestClient, account: Account, **variables: Any) -> Any:
    body = graphql(client, PAGE, variables, account=account)
    assert "errors" not in body, body
    return body["data"]["tasks"]


@pytest.fixture
def seven(client: TestClient, alice: Account) -> list[int]:
    ids = [create_task(client, alice, f"task {index}")["id"] for index in range(7)]
    for task_id in ids[1::3]:  # a mix of completed and open tasks
        client.patch(f"/api/tasks/{task_id}/toggle", headers=alice.headers)
    return ids


def test_paging_7_tasks_3_at_a_time_follows_the_rest_order(
    client: TestClient, alice: Account, seven: list[int]
) -> None:
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        current = page(client, alice, first=3, after=after)
        seen += [node["id"] for node in current["nodes"]]
        pages += 1
        assert current["totalCount"] == 7
        assert current["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not current["pageInfo"]["hasNextPage"]:
            break
        after = current["pageInfo"]["endCursor"]
    rest_order = [task["id"] for task in client.get("/api/tasks", headers=alice.headers).json()]
    assert pages == 3
    assert seen == rest_order
    assert sorted(seen) == sorted(seven)


def test_edges_carry_the_cursor_of_each_node(
    client: TestClient, alice: Account, seven: list[int]
) -> None:
    current = page(client, alice, first=3)
    assert [edge["node"]["id"] for edge in current["edges"]] == [n["id"] for n in current["nodes"]]
    assert current["pageInfo"]["startCursor"] == current["edges"][0]["cursor"]
    assert current["pageInfo"]["endCursor"] == current["edges"][-1]["cursor"]
    second = page(client, alice, first=1, after=current["edges"][1]["cursor"])
    assert second["nodes"] == [current["nodes"][2]]


def test_empty_list_has_no_cursors(client: TestClient, alice: Account) -> None:
    current = page(client, alice)
    assert current["nodes"] == []
    assert current["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


def test_default_page_size_is_50(client: TestClient, alice: Account, settings: Any) -> None:
    from models import Task
    from tests.support import database, user_id_of

    with database(settings) as session:
        owner = user_id_of(session, alice)
        session.add_all(Task(user_id=owner, title=f"t{index}") for index in range(51))
        session.commit()
    current = page(client, alice)
    assert len(current["nodes"]) == 50
    assert current["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize("first", [0, -1, 501])
def test_first_outside_1_to_500_is_bad_user_input(
    client: TestClient, alice: Account, first: int
) -> None:
    body = graphql(client, PAGE, {"first": first}, account=alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "first"


@pytest.mark.parametrize("cursor", ["garbage", "", "AAAA", "!!!", "x" * 5000])
def test_malformed_cursor_is_bad_user_input(
    client: TestClient, alice: Account, cursor: str
) -> None:
    body = graphql(client, PAGE, {"after": cursor}, account=alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_another_users_cursor_is_bad_user_input(
    client: TestClient, alice: Account, bob: Account
) -> None:
    create_task(client, bob, "b1")
    create_task(client, bob, "b2")
    bobs_cursor = page(client, bob, first=1)["pageInfo"]["endCursor"]
    body = graphql(client, PAGE, {"after": bobs_cursor}, account=alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_filter_by_completed_and_search(
    client: TestClient, alice: Account, seven: list[int]
) -> None:
    done = page(client, alice, filter={"completed": True})
    assert done["totalCount"] == 2
    assert all(node["completed"] for node in done["nodes"])
    found = page(client, alice, filter={"search": "TASK 3"})
    assert [node["title"] for node in found["nodes"]] == ["task 3"]


def test_search_rules_match_rest(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "50% off")
    create_task(client, alice, "500 off")
    assert [n["title"] for n in page(client, alice, filter={"search": "%"})["nodes"]] == ["50% off"]
    body = graphql(client, PAGE, {"filter": {"search": "x" * 201}}, account=alice)
    assert body["errors"][0]["extensions"]["field"] == "search"


def count_statements(
    client: TestClient, account: Account, statements: list[str], first: int
) -> int:
    statements.clear()
    query = "query($n: Int) { tasks(first: $n) { nodes { id owner { name } } } }"
    body = graphql(client, query, {"n": first}, account=account)
    assert len(body["data"]["tasks"]["nodes"]) == first
    return len(statements)


def test_nested_owner_costs_a_constant_number_of_statements(
    client: TestClient, alice: Account, settings: Any, statements: list[str]
) -> None:
    from models import Task
    from tests.support import database, user_id_of

    with database(settings) as session:
        owner = user_id_of(session, alice)
        session.add_all(Task(user_id=owner, title=f"t{index}") for index in range(500))
        session.commit()
    small = count_statements(client, alice, statements, 5)
    large = count_statements(client, alice, statements, 500)
    assert small == large
    assert large == 1  # the page, with its nodes' owner (the viewer)


def test_paging_through_equal_timestamps_breaks_ties_by_id(
    client: TestClient, alice: Account, settings: Any
) -> None:
    from datetime import UTC, datetime

    from sqlmodel import update

    from models import Task
    from tests.support import database

    ids = [create_task(client, alice, f"t{index}")["id"] for index in range(5)]
    client.patch(f"/api/tasks/{ids[0]}/toggle", headers=alice.headers)
    with database(settings) as session:
        session.exec(update(Task).values(created_at=datetime(2025, 1, 1, tzinfo=UTC)))
        session.commit()
    seen: list[int] = []
    after = None
    for _ in range(5):
        current = page(client, alice, first=2, after=after)
        seen += [node["id"] for node in current["nodes"]]
        if not current["pageInfo"]["hasNextPage"]:
            break
        after = current["pageInfo"]["endCursor"]
    assert seen == [ids[4], ids[3], ids[2], ids[1], ids[0]]


# Cursors signed with the right key but carrying a key no task can have -------------------------

ORDERED = """
query($first: Int, $after: String, $orderBy: TaskOrder) {
  tasks(first: $first, after: $after, orderBy: $orderBy) { nodes { id } pageInfo { endCursor } }
}
"""
TRASH = """query($after: String) { trash(first: 1, after: $after) {
  nodes { id } pageInfo { endCursor } } }"""


def re_signed(cursor: str, user_id: uuid.UUID, key: list[Any]) -> str:
    """`cursor` with its key replaced by `key`, signed as the server signs (the test knows the
    key): only the key's values can make the server refuse it."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    listing, segment, _ = orjson.loads(raw[16:])
    return encode_cursor(Position(listing, segment, tuple(key)), user_id, TEST_SECRET)


def key_of(cursor: str) -> list[Any]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    key: list[Any] = orjson.loads(raw[16:])[2]
    return key


def bad_cursor(body: Any) -> bool:
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    error = body["errors"][0]
    return bool(error["message"] == "Invalid cursor" and error["extensions"]["field"] == "after")


def alices_id(settings: Settings, alice: Account) -> uuid.UUID:
    with database(settings) as session:
        return user_id_of(session, alice)


BAD_IDS = [2**63, 2**64 - 1, -(2**63), 2**31, 0, -1, 1.5, True, "1", [1], {"id": 1}]
BAD_TIMES = [
    "not a timestamp",
    "2030-01-01T00:00:00",  # no time zone
    "2030-01-01",
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    1_700_000_000,
    True,
    ["2030-01-01T00:00:00Z"],
]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_signed_cursor_with_an_impossible_id_is_bad_user_input_on_after(
    client: TestClient, alice: Account, settings: Settings, seven: list[int], bad: object
) -> None:
    cursor = page(client, alice, first=2)["pageInfo"]["endCursor"]
    key, owner = key_of(cursor), alices_id(settings, alice)
    assert re_signed(cursor, owner, key) == cursor  # re-signed unchanged, the server takes it
    assert bad_cursor(
        graphql(client, PAGE, {"after": re_signed(cursor, owner, [key[0], bad])}, account=alice)
    )


@pytest.mark.parametrize("bad", BAD_TIMES, ids=repr)
def test_a_signed_cursor_with_an_impossible_timestamp_is_bad_user_input_on_after(
    client: TestClient, alice: Account, settings: Settings, seven: list[int], bad: object
) -> None:
    cursor = page(client, alice, first=2)["pageInfo"]["endCursor"]
    key, owner = key_of(cursor), alices_id(settings, alice)
    forged = re_signed(cursor, owner, [bad, key[1]])
    assert bad_cursor(graphql(client, PAGE, {"after": forged}, account=alice))


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("TITLE", 7),
        ("TITLE", "a\u0000b"),  # PostgreSQL cannot take a NUL
        ("TITLE", None),
        ("PRIORITY", "urgent"),
        ("PRIORITY", 3),
        ("PRIORITY", "HIGH"),
        ("UPDATED_AT", "yesterday"),
    ],
)
def test_a_signed_cursor_with_a_key_of_the_wrong_kind_for_its_order_is_bad_user_input(
    client: TestClient, alice: Account, settings: Settings, field: str, bad: object
) -> None:
    for index in range(3):
        create_task(client, alice, f"task {index}")
    order = {"field": field, "direction": "ASC"}
    found = graphql(client, ORDERED, {"first": 1, "orderBy": order}, account=alice)
    cursor = found["data"]["tasks"]["pageInfo"]["endCursor"]
    key, owner = key_of(cursor), alices_id(settings, alice)
    assert re_signed(cursor, owner, key) == cursor
    forged = re_signed(cursor, owner, [bad, key[1]])
    body = graphql(client, ORDERED, {"after": forged, "orderBy": order}, account=alice)
    assert bad_cursor(body)


def test_a_signed_cursor_with_a_huge_id_past_the_dated_tasks_is_bad_user_input(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    for index in range(3):
        create_task(client, alice, f"task {index}")  # no due date: keyed by id alone
    order = {"field": "DUE_AT", "direction": "DESC"}
    found = graphql(client, ORDERED, {"first": 1, "orderBy": order}, account=alice)
    cursor = found["data"]["tasks"]["pageInfo"]["endCursor"]
    owner = alices_id(settings, alice)
    assert len(key_of(cursor)) == 1
    body = graphql(
        client,
        ORDERED,
        {"after": re_signed(cursor, owner, [2**63]), "orderBy": order},
        account=alice,
    )
    assert bad_cursor(body)


@pytest.mark.parametrize(
    ("at", "bad"), [(0, "0001-01-01T00:00:00+14:00"), (0, 5), (1, 2**63), (1, 0), (1, "2")]
)
def test_a_signed_trash_cursor_with_an_impossible_key_is_bad_user_input(
    client: TestClient, alice: Account, settings: Settings, at: int, bad: object
) -> None:
    for index in range(3):
        task = create_task(client, alice, f"task {index}")
        client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    cursor = graphql(client, TRASH, account=alice)["data"]["trash"]["pageInfo"]["endCursor"]
    key, owner = key_of(cursor), alices_id(settings, alice)
    assert re_signed(cursor, owner, key) == cursor
    key[at] = bad
    body = graphql(client, TRASH, {"after": re_signed(cursor, owner, key)}, account=alice)
    assert bad_cursor(body)


def test_first_is_refused_with_the_message_rest_gives_limit(
    client: TestClient, alice: Account
) -> None:
    """One rule for a page's size on both doors: the same bound, the same words."""
    body = graphql(client, PAGE, {"first": 501}, account=alice)
    rest = client.get("/api/tasks", params={"limit": 501}, headers=alice.headers).json()
    assert body["errors"][0]["extensions"]["errors"][0]["message"] == rest["errors"][0]["message"]
