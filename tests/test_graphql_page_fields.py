"""GraphQL pages select only the task fields their query reads (and what their cursors need):
every field, however it is asked for, answers as it does in the whole page."""

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from app.settings import Settings
from resolvers.schema import build_schema
from resolvers.selections import COLUMN_FIELDS, OWNER_COLUMN_FIELDS, page_fields
from tests.support import Account, create_task, graphql

EVERY_FIELD = (
    "id title description completed priority dueAt tags version createdAt updatedAt deletedAt"
)
SORTS = ["CREATED_AT", "UPDATED_AT", "PRIORITY", "TITLE", "DUE_AT"]


@pytest.fixture
def tasks(client: TestClient, alice: Account) -> None:
    """Five tasks of every kind: done or not, with and without due dates and tags."""
    for number in range(5):
        task = create_task(
            client,
            alice,
            f"Task {number}",
            description=f"about {number}",
            priority=["low", "medium", "high"][number % 3],
            tags=[f"tag{number}"] if number % 2 else [],
            **({"due_at": f"2030-01-0{number + 1}T00:00:00Z"} if number % 2 == 0 else {}),
        )
        if number in (1, 4):
            client.patch(f"/api/tasks/{task['id']}/toggle", headers=alice.headers)


def data(client: TestClient, account: Account, query: str, **variables: Any) -> Any:
    body = graphql(client, query, variables, account=account)
    assert "errors" not in body, body
    return body["data"]


def whole_page(client: TestClient, account: Account, root: str = "tasks") -> list[Any]:
    found = data(client, account, f"{{ {root} {{ nodes {{ {EVERY_FIELD} }} }} }}")
    return list(found[root]["nodes"])


def test_the_column_fields_are_the_task_types_fields_but_its_owner(settings: Settings) -> None:
    schema = build_schema(settings)._schema
    task_type = schema.type_map["Task"]
    assert set(COLUMN_FIELDS) == set(task_type.fields) - {"owner"}  # type: ignore[attr-defined]
    assert set(EVERY_FIELD.split()) == set(COLUMN_FIELDS)


def test_the_owner_fields_read_with_a_page_are_the_user_types_fields_but_its_id(
    settings: Settings,
) -> None:
    user_type = build_schema(settings)._schema.type_map["User"]
    assert set(OWNER_COLUMN_FIELDS) == set(user_type.fields) - {"id"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("field", EVERY_FIELD.split())
def test_each_field_asked_alone_answers_as_in_the_whole_page(
    client: TestClient, alice: Account, tasks: None, field: str
) -> None:
    expected = [{field: node[field]} for node in whole_page(client, alice)]
    alone = data(client, alice, f"{{ tasks {{ nodes {{ {field} }} }} }}")["tasks"]["nodes"]
    by_edges = data(client, alice, f"{{ tasks {{ edges {{ node {{ {field} }} }} }} }}")
    assert alone == expected
    assert [edge["node"] for edge in by_edges["tasks"]["edges"]] == expected


def test_fields_behind_fragments_aliases_and_directives_are_selected(
    client: TestClient, alice: Account, tasks: None
) -> None:
    query = """
    query ($skip: Boolean!) {
      page: tasks { ...Page }
      other: tasks { edges { node { ... on Task { late: dueAt } } } }
    }
    fragment Page on TaskConnection { nodes { ...Fields version @skip(if: $skip) } }
    fragment Fields on Task { title ... @include(if: true) { tags } }
    """
    for skip in (True, False):
        found = data(client, alice, query, skip=skip)
        whole = whole_page(client, alice)
        expected = [
            {"title": node["title"], "tags": node["tags"]}
            | ({} if skip else {"version": node["version"]})
            for node in whole
        ]
        assert found["page"]["nodes"] == expected
        late = [edge["node"]["late"] for edge in found["other"]["edges"]]
        assert late == [node["dueAt"] for node in whole]


def test_the_same_page_under_two_aliases_selects_what_both_read(
    client: TestClient, alice: Account, tasks: None
) -> None:
    found = data(client, alice, "{ a: tasks { nodes { title } } b: tasks { nodes { tags } } }")
    whole = whole_page(client, alice)
    assert found["a"]["nodes"] == [{"title": node["title"]} for node in whole]
    assert found["b"]["nodes"] == [{"tags": node["tags"]} for node in whole]


OWNER_FIELDS = ["id", "email", "name", "createdAt"]


@pytest.mark.parametrize("field", OWNER_FIELDS)
def test_each_owner_field_answers_the_viewers_own(
    client: TestClient, alice: Account, tasks: None, field: str
) -> None:
    mine = data(client, alice, f"{{ me {{ {field} }} }}")["me"]
    nodes = data(client, alice, f"{{ tasks {{ nodes {{ owner {{ {field} }} }} }} }}")
    edges = data(client, alice, f"{{ tasks {{ edges {{ node {{ owner {{ {field} }} }} }} }} }}")
    assert [node["owner"] for node in nodes["tasks"]["nodes"]] == [mine] * 5
    assert [edge["node"]["owner"] for edge in edges["tasks"]["edges"]] == [mine] * 5


def test_the_tasks_in_the_trash_answer_their_owner_too(
    client: TestClient, alice: Account, tasks: None
) -> None:
    for task in client.get("/api/tasks", headers=alice.headers).json()[:2]:
        client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    me = data(client, alice, "{ me { id email name createdAt } }")["me"]
    found = data(client, alice, "{ trash { nodes { owner { id email name createdAt } } } }")
    assert [node["owner"] for node in found["trash"]["nodes"]] == [me] * 2


def test_owner_fields_behind_fragments_aliases_and_directives_are_read(
    client: TestClient, alice: Account, tasks: None
) -> None:
    query = """
    query ($skip: Boolean!) { tasks(first: 2) { nodes { ...Owned } } trash { nodes { id } } }
    fragment Owned on Task { owner { who: name ... @skip(if: $skip) { email } ...Since } }
    fragment Since on User { createdAt }
    """
    me = data(client, alice, "{ me { name email createdAt } }")["me"]
    for skip in (True, False):
        found = data(client, alice, query, skip=skip)
        owner = {"who": me["name"], "createdAt": me["createdAt"]}
        owner |= {} if skip else {"email": me["email"]}
        assert [node["owner"] for node in found["tasks"]["nodes"]] == [owner] * 2
        assert found["trash"] == {"nodes": []}


def test_a_page_and_its_owner_are_read_in_one_statement(
    client: TestClient, alice: Account, tasks: None, statements: list[str]
) -> None:
    found = data(client, alice, "{ tasks { nodes { id owner { id name } } } }")
    assert len(found["tasks"]["nodes"]) == 5
    (page,) = statements
    selected = page.split("FROM tasks")[0]
    assert "users.name" in selected  # asked for
    assert "users.email" not in selected
    assert "password_hash" not in page


def test_a_page_after_a_cursor_reads_its_owner_with_its_tasks(
    client: TestClient, alice: Account, tasks: None, statements: list[str]
) -> None:
    """It may read several segments of its order (a statement each); none reads the owner."""
    me = data(client, alice, "{ me { name } }")["me"]
    first = data(client, alice, "{ tasks(first: 2) { pageInfo { endCursor } } }")["tasks"]
    statements.clear()
    query = "query ($a: String) { tasks(first: 3, after: $a) { nodes { owner { name } } } }"
    found = data(client, alice, query, a=first["pageInfo"]["endCursor"])
    assert [node["owner"] for node in found["tasks"]["nodes"]] == [me] * 3
    assert statements
    assert all("FROM tasks" in sql and "ORDER BY" in sql for sql in statements)


PAGE = """query ($first: Int, $after: String, $sort: TaskOrderField!) {
  tasks(first: $first, after: $after, orderBy: {field: $sort, direction: ASC}) {
    pageInfo { endCursor hasNextPage }
  }
}"""
IDS = """query ($after: String, $sort: TaskOrderField!) {
  tasks(first: 100, after: $after, orderBy: {field: $sort, direction: ASC}) { nodes { id } }
}"""


@pytest.mark.parametrize("sort", SORTS)
def test_a_page_reading_no_task_field_still_gives_cursors_that_continue_it(
    client: TestClient, alice: Account, tasks: None, sort: str
) -> None:
    """Its cursors need the order's key fields, selected whatever the query reads."""
    every = [node["id"] for node in data(client, alice, IDS, sort=sort)["tasks"]["nodes"]]
    for first in range(1, 5):
        page = data(client, alice, PAGE, first=first, sort=sort)["tasks"]["pageInfo"]
        rest = data(client, alice, IDS, after=page["endCursor"], sort=sort)["tasks"]["nodes"]
        assert [node["id"] for node in rest] == every[first:]


def test_the_default_order_pages_on_with_no_task_field_read(
    client: TestClient, alice: Account, tasks: None
) -> None:
    whole = data(client, alice, "{ tasks { nodes { id } } }")["tasks"]["nodes"]
    every = [node["id"] for node in whole]
    first = data(client, alice, "{ tasks(first: 3) { pageInfo { endCursor } } }")["tasks"]
    rest = data(
        client, alice, "query ($a: String) { tasks(after: $a) { nodes { id } } }",
        a=first["pageInfo"]["endCursor"],
    )  # fmt: skip
    assert [node["id"] for node in rest["tasks"]["nodes"]] == every[3:]


def test_a_page_selects_only_the_columns_asked_for(
    client: TestClient, alice: Account, tasks: None, statements: list[str]
) -> None:
    data(client, alice, "{ tasks { nodes { title } } }")
    (page,) = [sql for sql in statements if "ORDER BY" in sql]
    selected = page.split("FROM")[0]
    assert "title" in selected  # asked for
    assert "completed" in selected  # the default order's segments read it
    assert "description" not in selected
    assert "tags" not in selected


def test_the_trash_answers_each_field_as_in_its_whole_page(
    client: TestClient, alice: Account, tasks: None
) -> None:
    for task in client.get("/api/tasks", headers=alice.headers).json()[:3]:
        client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    whole = whole_page(client, alice, "trash")
    for field in ("title", "deletedAt", "tags"):
        alone = data(client, alice, f"{{ trash {{ nodes {{ {field} }} }} }}")["trash"]["nodes"]
        assert alone == [{field: node[field]} for node in whole]
    first = data(client, alice, "{ trash(first: 1) { pageInfo { endCursor } } }")["trash"]
    rest = data(
        client, alice, "query ($a: String) { trash(after: $a) { nodes { title } } }",
        a=first["pageInfo"]["endCursor"],
    )  # fmt: skip
    assert rest["trash"]["nodes"] == [{"title": node["title"]} for node in whole[1:]]


class CountedFragments(dict[str, FragmentDefinitionNode]):
    """Fragment definitions that count how often each is looked up."""

    def __init__(self, definitions: dict[str, FragmentDefinitionNode]) -> None:
        super().__init__(definitions)
        self.lookups: Counter[str] = Counter()

    def __getitem__(self, name: str) -> FragmentDefinitionNode:
        self.lookups[name] += 1
        return super().__getitem__(name)


# 16 fragments, each spreading the next twice: following every spread walks the last 2**16 times
# (and 2**30 times at 30 deep, which the document limits allow too).
DOUBLING = (
    "query { tasks { nodes { ...F0 } } } "
    + " ".join(f"fragment F{i} on Task {{ ...F{i + 1} ...F{i + 1} }}" for i in range(16))
    + " fragment F16 on Task { title }"
)


def test_a_fragment_spread_again_and_again_is_walked_once() -> None:
    document = parse(DOUBLING)
    operation, *definitions = document.definitions
    assert isinstance(operation, OperationDefinitionNode)
    fragments = CountedFragments(
        {each.name.value: each for each in definitions if isinstance(each, FragmentDefinitionNode)}
    )
    raw = SimpleNamespace(field_nodes=list(operation.selection_set.selections), fragments=fragments)
    assert page_fields(SimpleNamespace(_raw_info=raw)).tasks == {"title"}  # type: ignore[arg-type]
    assert set(fragments.lookups.values()) == {1}


def test_a_document_of_doubling_fragments_is_answered_at_once(
    client: TestClient, alice: Account, tasks: None
) -> None:
    """It passes every document limit (so does one 30 deep)."""
    found = data(client, alice, DOUBLING)["tasks"]["nodes"]
    assert found == [{"title": node["title"]} for node in whole_page(client, alice)]
