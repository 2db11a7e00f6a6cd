"""GraphQL: priorities, due dates, tags, orders, versions and the trash (contract: "The rest of
the schema"), following the REST rules."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from models import Tag, Task, TaskTag
from tests.support import Account, create_task, database, error_codes, graphql, user_id_of

FIELDS = "id title priority dueAt tags version deletedAt"
CREATE = f"mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {FIELDS} }} }}"
UPDATE = f"""mutation($id: Int!, $input: UpdateTaskInput!, $v: Int) {{
  updateTask(id: $id, input: $input, expectedVersion: $v) {{ {FIELDS} }} }}"""
PAGE = """query($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {
  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount nodes { id title } pageInfo { hasNextPage endCursor } } }"""


def data(body: Any) -> Any:
    assert "errors" not in body, body
    return body["data"]


def create(client: TestClient, account: Account, **fields: Any) -> Any:
    return data(graphql(client, CREATE, {"input": fields}, account=account))["createTask"]


def field_error(body: Any) -> tuple[list[str], str]:
    return error_codes(body), body["errors"][0]["extensions"].get("field")


def test_create_task_takes_priority_due_date_and_tags(client: TestClient, alice: Account) -> None:
    task = create(
        client,
        alice,
        title="t",
        priority="HIGH",
        dueAt="2030-01-01T10:00:00+01:00",
        tags=["b", "A", "a"],
    )
    assert task["priority"] == "HIGH"
    assert task["dueAt"] == "2030-01-01T09:00:00+00:00"
    assert (task["tags"], task["version"], task["deletedAt"]) == (["A", "b"], 1, None)
    rest = client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()
    assert (rest["priority"], rest["tags"]) == ("high", ["A", "b"])


def test_create_task_defaults_to_priority_none_and_no_tags(
    client: TestClient, alice: Account
) -> None:
    task = create(client, alice, title="t")
    assert (task["priority"], task["dueAt"], task["tags"]) == ("NONE", None, [])


def test_a_null_priority_is_bad_user_input_on_priority(client: TestClient, alice: Account) -> None:
    body = graphql(client, CREATE, {"input": {"title": "t", "priority": None}}, account=alice)
    assert field_error(body) == (["BAD_USER_INPUT"], "priority")
    task = create(client, alice, title="u")
    body = graphql(client, UPDATE, {"id": task["id"], "input": {"priority": None}}, account=alice)
    assert field_error(body) == (["BAD_USER_INPUT"], "priority")


def test_a_due_date_without_a_time_zone_is_bad_user_input(
    client: TestClient, alice: Account
) -> None:
    body = graphql(
        client, CREATE, {"input": {"title": "t", "dueAt": "2030-01-01T10:00:00"}}, account=alice
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert client.get("/api/tasks", headers=alice.headers).json() == []


def test_an_instant_that_utc_cannot_write_is_bad_user_input(
    client: TestClient, alice: Account
) -> None:
    moment = "0001-01-01T00:00:00+14:00"
    body = graphql(client, CREATE, {"input": {"title": "t", "dueAt": moment}}, account=alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    body = graphql(client, PAGE, {"filter": {"dueBefore": moment}}, account=alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_update_task_nulls_clear_due_date_and_tags(client: TestClient, alice: Account) -> None:
    task = create(client, alice, title="t", dueAt="2030-01-01T00:00:00Z", tags=["a"])
    variables = {"id": task["id"], "input": {"dueAt": None, "tags": None}}
    updated = data(graphql(client, UPDATE, variables, account=alice))["updateTask"]
    assert (updated["dueAt"], updated["tags"], updated["version"]) == (None, [], 2)
    variables = {"id": task["id"], "input": {"tags": ["x"]}}
    assert data(graphql(client, UPDATE, variables, account=alice))["updateTask"]["tags"] == ["x"]
    variables = {"id": task["id"], "input": {"tags": []}}
    assert data(graphql(client, UPDATE, variables, account=alice))["updateTask"]["tags"] == []


def test_a_stale_expected_version_is_a_conflict_with_the_current_version(
    client: TestClient, alice: Account
) -> None:
    task = create(client, alice, title="t")
    graphql(client, UPDATE, {"id": task["id"], "input": {"title": "v2"}}, account=alice)
    body = graphql(
        client, UPDATE, {"id": task["id"], "input": {"title": "v3"}, "v": 1}, account=alice
    )
    assert error_codes(body) == ["CONFLICT"]
    assert body["errors"][0]["extensions"]["currentVersion"] == 2
    toggle = "mutation($id: Int!) { toggleTask(id: $id, expectedVersion: 1) { id } }"
    assert error_codes(graphql(client, toggle, {"id": task["id"]}, account=alice)) == ["CONFLICT"]
    delete = "mutation($id: Int!) { deleteTask(id: $id, expectedVersion: 1) }"
    assert error_codes(graphql(client, delete, {"id": task["id"]}, account=alice)) == ["CONFLICT"]
    rest = client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()
    assert (rest["title"], rest["completed"], rest["version"]) == ("v2", False, 2)


def test_the_current_expected_version_lets_the_write_through(
    client: TestClient, alice: Account
) -> None:
    task = create(client, alice, title="t")
    body = graphql(
        client, UPDATE, {"id": task["id"], "input": {"title": "u"}, "v": 1}, account=alice
    )
    assert data(body)["updateTask"]["version"] == 2


def test_filters_follow_the_rest_rules(client: TestClient, alice: Account) -> None:
    create(
        client,
        alice,
        title="high work",
        priority="HIGH",
        tags=["Work"],
        dueAt="2030-01-01T00:00:00Z",
    )
    create(client, alice, title="low work", priority="LOW", tags=["work"])
    create(client, alice, title="overdue", dueAt="2001-01-01T00:00:00Z")

    def titles(**task_filter: Any) -> set[str]:
        found = data(graphql(client, PAGE, {"filter": task_filter}, account=alice))["tasks"]
        assert found["totalCount"] == len(found["nodes"])
        return {node["title"] for node in found["nodes"]}

    assert titles(priorities=["HIGH", "LOW"]) == {"high work", "low work"}
    assert titles(tags=["WORK"]) == {"high work", "low work"}
    assert titles(dueBefore="2030-01-01T00:00:00Z") == {"overdue"}
    assert titles(dueAfter="2030-01-01T00:00:00Z") == {"high work"}
    assert titles(overdue=True) == {"overdue"}
    assert titles(overdue=False) == {"high work", "low work"}


ORDERS = [
    ("CREATED_AT", "ASC", "created_at"),
    ("UPDATED_AT", "DESC", "-updated_at"),
    ("DUE_AT", "ASC", "due_at"),
    ("DUE_AT", "DESC", "-due_at"),
    ("PRIORITY", "DESC", "-priority"),
    ("TITLE", "ASC", "title"),
]


@pytest.fixture
def mixed(client: TestClient, alice: Account) -> None:
    """Eleven tasks with ties in every key: due dates and none, priorities, titles by case."""
    for index in range(11):
        due = None if index % 3 == 0 else f"2030-01-0{1 + index % 2}T00:00:00Z"
        priority = ["none", "low", "medium", "high"][index % 4]
        task = create_task(
            client, alice, ["b", "A", "a", "B"][index % 4], priority=priority, due_at=due
        )
        if index % 5 == 0:
            client.patch(f"/api/tasks/{task['id']}/toggle", headers=alice.headers)


@pytest.mark.parametrize(("field", "direction", "sort"), ORDERS)
def test_every_order_pages_by_key_in_the_rest_order(
    client: TestClient, alice: Account, mixed: None, field: str, direction: str, sort: str
) -> None:
    order = {"field": field, "direction": direction}
    seen: list[int] = []
    after = None
    while True:
        found = data(
            graphql(client, PAGE, {"first": 2, "after": after, "orderBy": order}, account=alice)
        )
        seen += [node["id"] for node in found["tasks"]["nodes"]]
        if not found["tasks"]["pageInfo"]["hasNextPage"]:
            break
        after = found["tasks"]["pageInfo"]["endCursor"]
    rest = client.get("/api/tasks", params={"sort": sort}, headers=alice.headers).json()
    assert seen == [task["id"] for task in rest]
    assert len(set(seen)) == 11


def test_order_direction_defaults_to_ascending(
    client: TestClient, alice: Account, mixed: None
) -> None:
    rest = client.get("/api/tasks", params={"sort": "title"}, headers=alice.headers).json()
    for order in ({"field": "TITLE"}, {"field": "TITLE", "direction": None}):
        found = data(graphql(client, PAGE, {"orderBy": order}, account=alice))
        assert [node["id"] for node in found["tasks"]["nodes"]] == [task["id"] for task in rest]


def test_a_cursor_continues_only_its_own_order_and_filter(
    client: TestClient, alice: Account, mixed: None
) -> None:
    by_title = {"field": "TITLE", "direction": "ASC"}
    found = data(graphql(client, PAGE, {"first": 2, "orderBy": by_title}, account=alice))
    cursor = found["tasks"]["pageInfo"]["endCursor"]
    for other in (
        {"orderBy": {"field": "TITLE", "direction": "DESC"}},
        {},
        {"orderBy": by_title, "filter": {"priorities": ["HIGH"]}},
    ):
        body = graphql(client, PAGE, {"first": 2, "after": cursor, **other}, account=alice)
        assert field_error(body) == (["BAD_USER_INPUT"], "after")
    same = graphql(client, PAGE, {"first": 2, "after": cursor, "orderBy": by_title}, account=alice)
    assert "errors" not in same


def test_another_users_cursor_is_refused_for_every_order(
    client: TestClient, alice: Account, bob: Account, mixed: None
) -> None:
    order = {"field": "DUE_AT", "direction": "DESC"}
    found = data(graphql(client, PAGE, {"first": 2, "orderBy": order}, account=alice))
    cursor = found["tasks"]["pageInfo"]["endCursor"]
    body = graphql(client, PAGE, {"after": cursor, "orderBy": order}, account=bob)
    assert field_error(body) == (["BAD_USER_INPUT"], "after")


TRASH = """query($after: String) { trash(first: 2, after: $after) {
  totalCount nodes { id title deletedAt tags } pageInfo { hasNextPage endCursor } } }"""


def test_delete_moves_to_the_trash_and_restore_brings_back(
    client: TestClient, alice: Account
) -> None:
    task = create(client, alice, title="t", tags=["k"])
    assert data(
        graphql(
            client, "mutation($id: Int!) { deleteTask(id: $id) }", {"id": task["id"]}, account=alice
        )
    )
    assert (
        data(
            graphql(
                client,
                "query($id: Int!) { task(id: $id) { id } }",
                {"id": task["id"]},
                account=alice,
            )
        )["task"]
        is None
    )
    live = data(
        graphql(client, "{ tasks { totalCount nodes { id } } taskStats { total } }", account=alice)
    )
    assert (live["tasks"]["totalCount"], live["tasks"]["nodes"], live["taskStats"]["total"]) == (
        0,
        [],
        0,
    )
    trash = data(graphql(client, TRASH, account=alice))["trash"]
    assert trash["totalCount"] == 1
    assert (trash["nodes"][0]["tags"], trash["nodes"][0]["deletedAt"] is not None) == (["k"], True)
    restore = f"mutation($id: Int!) {{ restoreTask(id: $id) {{ {FIELDS} }} }}"
    restored = data(graphql(client, restore, {"id": task["id"]}, account=alice))["restoreTask"]
    assert (restored["deletedAt"], restored["tags"], restored["version"]) == (None, ["k"], 3)
    assert error_codes(graphql(client, restore, {"id": task["id"]}, account=alice)) == ["NOT_FOUND"]


def test_trash_pages_most_recently_deleted_first(client: TestClient, alice: Account) -> None:
    ids = [create(client, alice, title=f"t{index}")["id"] for index in range(5)]
    for task_id in ids:
        client.delete(f"/api/tasks/{task_id}", headers=alice.headers)
    seen: list[int] = []
    after = None
    while True:
        trash = data(graphql(client, TRASH, {"after": after}, account=alice))["trash"]
        seen += [node["id"] for node in trash["nodes"]]
        if not trash["pageInfo"]["hasNextPage"]:
            break
        after = trash["pageInfo"]["endCursor"]
    assert seen == ids[::-1]


def test_purge_task_and_empty_trash(client: TestClient, alice: Account, bob: Account) -> None:
    ids = [create(client, alice, title=f"t{index}")["id"] for index in range(3)]
    for task_id in ids:
        client.delete(f"/api/tasks/{task_id}", headers=alice.headers)
    bobs = create(client, bob, title="bob's")["id"]
    client.delete(f"/api/tasks/{bobs}", headers=bob.headers)
    purge = "mutation($id: Int!) { purgeTask(id: $id) }"
    assert data(graphql(client, purge, {"id": ids[0]}, account=alice)) == {"purgeTask": True}
    assert error_codes(graphql(client, purge, {"id": ids[0]}, account=alice)) == ["NOT_FOUND"]
    assert error_codes(graphql(client, purge, {"id": bobs}, account=alice)) == ["NOT_FOUND"]
    assert data(graphql(client, "mutation { emptyTrash }", account=alice)) == {"emptyTrash": 2}
    assert data(graphql(client, TRASH, account=bob))["trash"]["totalCount"] == 1


def test_tags_query_lists_live_tags_with_counts(client: TestClient, alice: Account) -> None:
    create(client, alice, title="a", tags=["Work", "home"])
    create(client, alice, title="b", tags=["work"])
    found = data(graphql(client, "{ tags { name taskCount } }", account=alice))["tags"]
    assert found == [{"name": "home", "taskCount": 1}, {"name": "Work", "taskCount": 2}]


def _update_tags(tags: list[str] | None, name: str) -> Any:
    def uncarry(client: TestClient, account: Account, task_id: int) -> None:
        variables = {"id": task_id, "input": {"tags": tags}}
        data(graphql(client, UPDATE, variables, account=account))

    uncarry.__name__ = name
    return uncarry


def _trash(client: TestClient, account: Account, task_id: int) -> None:
    delete = "mutation($id: Int!) { deleteTask(id: $id) }"
    assert data(graphql(client, delete, {"id": task_id}, account=account)) == {"deleteTask": True}


def _purge_task(client: TestClient, account: Account, task_id: int) -> None:
    _trash(client, account, task_id)
    purge = "mutation($id: Int!) { purgeTask(id: $id) }"
    assert data(graphql(client, purge, {"id": task_id}, account=account)) == {"purgeTask": True}


def _empty_trash(client: TestClient, account: Account, task_id: int) -> None:
    _trash(client, account, task_id)
    assert data(graphql(client, "mutation { emptyTrash }", account=account)) == {"emptyTrash": 1}


UNCARRY = [
    _update_tags([], "update_to_no_tags"),
    _update_tags(None, "update_to_null_tags"),
    _update_tags(["x"], "update_to_other_tags"),
    _purge_task,
    _empty_trash,
]


@pytest.mark.parametrize("uncarry", UNCARRY, ids=lambda way: way.__name__.strip("_"))
def test_a_tag_gone_while_other_tags_are_carried_takes_the_next_spelling(
    client: TestClient, alice: Account, uncarry: Any
) -> None:
    create(client, alice, title="other", tags=["home"])
    task = create(client, alice, title="first", tags=["Work"])
    uncarry(client, alice, task["id"])
    found = data(graphql(client, "{ tags { name taskCount } }", account=alice))["tags"]
    assert "work" not in {tag["name"].casefold() for tag in found}
    assert create(client, alice, title="second", tags=["WORK"])["tags"] == ["WORK"]
    query = '{ tasks(filter: {tags: ["work"]}) { nodes { title tags } } }'
    nodes = data(graphql(client, query, account=alice))["tasks"]["nodes"]
    assert nodes == [{"title": "second", "tags": ["WORK"]}]


def test_a_tag_carried_only_by_a_trashed_task_keeps_its_spelling_for_the_restore(
    client: TestClient, alice: Account
) -> None:
    task = create(client, alice, title="first", tags=["Work"])
    _trash(client, alice, task["id"])
    assert create(client, alice, title="second", tags=["WORK"])["tags"] == ["Work"]
    restore = "mutation($id: Int!) { restoreTask(id: $id) { tags } }"
    restored = data(graphql(client, restore, {"id": task["id"]}, account=alice))["restoreTask"]
    assert restored["tags"] == ["Work"]


def test_tags_on_a_page_cost_no_statement_per_task(
    client: TestClient, alice: Account, settings: Any, statements: list[str]
) -> None:
    with database(settings) as session:
        owner = user_id_of(session, alice)
        tag = Tag(user_id=owner, name="bulk", key="bulk")
        tasks = [Task(user_id=owner, title=f"t{index}", tags=["bulk"]) for index in range(500)]
        session.add_all([tag, *tasks])
        session.flush()
        session.add_all(TaskTag(task_id=task.id, tag_id=tag.id) for task in tasks)  # type: ignore[arg-type]
        session.commit()
    counts = []
    for first in (5, 500):
        statements.clear()
        query = """query($n: Int) { tasks(first: $n, filter: {tags: ["BULK"]}) {
          nodes { id tags owner { name } } } }"""
        found = data(graphql(client, query, {"n": first}, account=alice))["tasks"]["nodes"]
        assert len(found) == first
        assert all(node["tags"] == ["bulk"] for node in found)
        counts.append(len(statements))
    assert counts == [1, 1]  # the page, with its tags and its owner
