"""GraphQL task operations: the contract's queries and mutations, with and without a user."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import Account, create_task, error_codes, graphql

TASK_FIELDS = "id title description completed createdAt updatedAt owner { id email name }"


def test_create_task_trims_and_defaults(client: TestClient, alice: Account) -> None:
    body = graphql(
        client,
        f'mutation {{ createTask(input: {{title: "  Plan  "}}) {{ {TASK_FIELDS} }} }}',
        account=alice,
    )
    task = body["data"]["createTask"]
    assert task["title"] == "Plan"
    assert task["description"] == ""
    assert task["completed"] is False
    assert task["owner"]["email"] == alice.email
    assert task["createdAt"].endswith(("Z", "+00:00"))


def test_create_task_with_null_description_stores_empty(client: TestClient, alice: Account) -> None:
    body = graphql(
        client,
        'mutation { createTask(input: {title: "t", description: null}) { description } }',
        account=alice,
    )
    assert body["data"]["createTask"]["description"] == ""


def test_invalid_title_is_bad_user_input_with_the_rest_message(
    client: TestClient, alice: Account
) -> None:
    body = graphql(
        client,
        "mutation($t: String!) { createTask(input: {title: $t}) { id } }",
        {"t": "\u00a0 "},
        account=alice,
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "title"
    rest = client.post("/api/tasks", json={"title": "\u00a0 "}, headers=alice.headers).json()
    assert error["message"] == rest["detail"]
    assert client.get("/api/tasks", headers=alice.headers).json() == []


def test_nul_in_a_variable_is_bad_user_input(client: TestClient, alice: Account) -> None:
    body = graphql(
        client,
        "mutation($t: String!) { createTask(input: {title: $t}) { id } }",
        {"t": "a\u0000"},
        account=alice,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_task_returns_own_task(client: TestClient, alice: Account) -> None:
    created = create_task(client, alice, "mine")
    body = graphql(
        client,
        "query($id: Int!) { task(id: $id) { id title } }",
        {"id": created["id"]},
        account=alice,
    )
    assert body["data"]["task"] == {"id": created["id"], "title": "mine"}


def test_task_is_null_when_missing(client: TestClient, alice: Account) -> None:
    body = graphql(client, "{ task(id: 4242) { id } }", account=alice)
    assert body == {"data": {"task": None}}


def test_update_task_changes_only_given_fields(client: TestClient, alice: Account) -> None:
    created = create_task(client, alice, "old", description="keep")
    body = graphql(
        client,
        "mutation($id: Int!) { updateTask(id: $id, input: {completed: true}) "
        "{ title description completed } }",
        {"id": created["id"]},
        account=alice,
    )
    assert body["data"]["updateTask"] == {"title": "old", "description": "keep", "completed": True}


def test_update_task_null_description_clears_it(client: TestClient, alice: Account) -> None:
    created = create_task(client, alice, "t", description="something")
    body = graphql(
        client,
        "mutation($id: Int!) { updateTask(id: $id, input: {description: null}) { description } }",
        {"id": created["id"]},
        account=alice,
    )
    assert body["data"]["updateTask"]["description"] == ""


@pytest.mark.parametrize("field", ["title", "completed"])
def test_update_task_null_title_or_completed_is_bad_user_input(
    client: TestClient, alice: Account, field: str
) -> None:
    created = create_task(client, alice, "t")
    body = graphql(
        client,
        f"mutation($id: Int!) {{ updateTask(id: $id, input: {{{field}: null}}) {{ id }} }}",
        {"id": created["id"]},
        account=alice,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field


def test_toggle_task_flips_completed(client: TestClient, alice: Account) -> None:
    created = create_task(client, alice, "t")
    body = graphql(
        client,
        "mutation($id: Int!) { toggleTask(id: $id) { completed } }",
        {"id": created["id"]},
        account=alice,
    )
    assert body["data"]["toggleTask"]["completed"] is True


def test_delete_task_returns_true_and_removes_it(client: TestClient, alice: Account) -> None:
    created = create_task(client, alice, "t")
    body = graphql(
        client, "mutation($id: Int!) { deleteTask(id: $id) }", {"id": created["id"]}, account=alice
    )
    assert body["data"]["deleteTask"] is True
    assert client.get(f"/api/tasks/{created['id']}", headers=alice.headers).status_code == 404


@pytest.mark.parametrize(
    "mutation",
    [
        'updateTask(id: 4242, input: {title: "x"}) { id }',
        "toggleTask(id: 4242) { id }",
        "deleteTask(id: 4242)",
    ],
)
def test_mutations_on_a_missing_task_are_not_found(
    client: TestClient, alice: Account, mutation: str
) -> None:
    body = graphql(client, f"mutation {{ {mutation} }}", account=alice)
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == "Task not found"


def test_task_stats(client: TestClient, alice: Account) -> None:
    for title in ("a", "b"):
        create_task(client, alice, title)
    body = graphql(client, "{ taskStats { total completed pending } }", account=alice)
    assert body["data"]["taskStats"] == {"total": 2, "completed": 0, "pending": 2}


@pytest.mark.parametrize(
    "query",
    [
        "{ me { id } }",
        "{ task(id: 1) { id } }",
        "{ tasks { totalCount } }",
        "{ taskStats { total } }",
        'mutation { createTask(input: {title: "t"}) { id } }',
        'mutation { updateTask(id: 1, input: {title: "t"}) { id } }',
        "mutation { toggleTask(id: 1) { id } }",
        "mutation { deleteTask(id: 1) }",
        'mutation { logout(refreshToken: "x") }',
    ],
)
def test_fields_that_need_a_user_are_unauthenticated_without_one(
    client: TestClient, query: str
) -> None:
    assert error_codes(graphql(client, query)) == ["UNAUTHENTICATED"]


def test_a_refresh_token_does_not_authenticate_graphql(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"Authorization": f"Bearer {alice.refresh_token}"},
    )
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


class TestIsolation:
    @pytest.fixture
    def bobs_task(self, client: TestClient, bob: Account) -> Any:
        return create_task(client, bob, "bob's", description="private")

    def test_foreign_task_is_null(self, client: TestClient, alice: Account, bobs_task: Any) -> None:
        body = graphql(
            client,
            "query($id: Int!) { task(id: $id) { id } }",
            {"id": bobs_task["id"]},
            account=alice,
        )
        assert body == {"data": {"task": None}}

    @pytest.mark.parametrize(
        "mutation",
        [
            'updateTask(id: $id, input: {title: "hacked"}) { id }',
            "toggleTask(id: $id) { id }",
            "deleteTask(id: $id)",
        ],
    )
    def test_mutating_a_foreign_task_is_not_found_and_changes_nothing(
        self, client: TestClient, alice: Account, bob: Account, bobs_task: Any, mutation: str
    ) -> None:
        body = graphql(
            client, f"mutation($id: Int!) {{ {mutation} }}", {"id": bobs_task["id"]}, account=alice
        )
        assert error_codes(body) == ["NOT_FOUND"]
        after = client.get(f"/api/tasks/{bobs_task['id']}", headers=bob.headers).json()
        assert after == bobs_task

    def test_listing_and_stats_show_only_own_tasks(
        self, client: TestClient, alice: Account, bobs_task: Any
    ) -> None:
        body = graphql(
            client, "{ tasks { totalCount nodes { id } } taskStats { total } }", account=alice
        )
        assert body["data"] == {"tasks": {"totalCount": 0, "nodes": []}, "taskStats": {"total": 0}}


def test_rest_and_graphql_see_the_same_data(client: TestClient, alice: Account) -> None:
    rest_task = create_task(client, alice, "from rest")
    body = graphql(
        client, 'mutation { createTask(input: {title: "from graphql"}) { id } }', account=alice
    )
    graphql_id = body["data"]["createTask"]["id"]
    listed = graphql(client, "{ tasks { nodes { id title } } }", account=alice)
    assert listed["data"]["tasks"]["nodes"] == [
        {"id": graphql_id, "title": "from graphql"},
        {"id": rest_task["id"], "title": "from rest"},
    ]
    assert client.get(f"/api/tasks/{graphql_id}", headers=alice.headers).json()["title"] == (
        "from graphql"
    )
