"""What one GraphQL request may ask for (contract: "Limits", "Checking a document costs time in
proportion to its size", "Cost", "Writes per request"): checked before anything runs, over
aliases, fragments, batches and sockets alike."""

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.factory import create_app
from app.settings import Settings
from tests.support import Account, error_codes, graphql
from tests.test_subscriptions import PROTOCOL

RESPONSE_JSON = "application/graphql-response+json"
APOLLO_ACCEPT = f"{RESPONSE_JSON}, application/json;q=0.9"
# Within every limit (depth 1, no aliases, about 400 tokens); expanded spread by spread, 2^40 of
# them: the limiters that did so would never answer.
LEVELS = 40
PAGE_WITH_OWNERS = "tasks(first: 500) { nodes { id owner { name } } }"  # 500 x (1 + 1) + 1


def doubling_chain(root: str = "Query", last: str = "__typename", operation: str = "") -> str:
    fragments = " ".join(
        f"fragment F{i} on {root} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(LEVELS)
    )
    return f"{operation} {{ ...F0 }} {fragments} fragment F{LEVELS} on {root} {{ {last} }}"


def aliased(field: str, count: int) -> str:
    return " ".join(f"a{i}: {field}" for i in range(count))


def post(client: TestClient, body: Any, account: Account | None = None, **headers: str) -> Response:
    return client.post(
        "/graphql", json=body, headers={**(account.headers if account else {}), **headers}
    )


def created_tasks(client: TestClient, account: Account) -> int:
    return int(client.get("/api/tasks", headers=account.headers).headers["X-Total-Count"])


def refusal(response: Response) -> tuple[int, str, str]:
    (error,) = response.json()["errors"]
    return response.status_code, error["extensions"]["code"], error["message"]


@pytest.fixture
def limited(make_settings: Callable[..., Settings]) -> Callable[..., TestClient]:
    def make(**limits: Any) -> TestClient:
        return TestClient(create_app(make_settings(**limits)))

    return make


def test_a_doubling_chain_of_fragments_is_answered_at_once(client: TestClient) -> None:
    started = time.monotonic()
    body = graphql(client, doubling_chain())
    assert time.monotonic() - started < 1.0
    assert body == {"data": {"__typename": "Query"}}


def test_a_batch_of_doubling_chains_is_answered_at_once(client: TestClient) -> None:
    started = time.monotonic()
    response = post(client, [{"query": doubling_chain()}] * 10)
    assert time.monotonic() - started < 1.0
    assert response.json() == [{"data": {"__typename": "Query"}}] * 10


def test_a_doubling_chain_over_a_socket_subscribes_at_once(
    client: TestClient, alice: Account
) -> None:
    chain = doubling_chain("Subscription", "taskEvents { kind taskId }", "subscription")
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json(
            {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {alice.access_token}"},
            }
        )
        assert ws.receive_json() == {"type": "connection_ack"}
        started = time.monotonic()
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": chain}})
        created = client.post("/api/tasks", json={"title": "seen"}, headers=alice.headers).json()
        event = ws.receive_json()
    assert time.monotonic() - started < 1.0
    assert event["payload"]["data"]["taskEvents"] == {"kind": "CREATED", "taskId": created["id"]}


def test_depth_is_measured_through_fragments(limited: Callable[..., TestClient]) -> None:
    query = "{ ...Q } fragment Q on Query { tasks { nodes { owner { id } } } }"
    body = graphql(limited(graphql_max_depth=2), query)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "exceeds maximum operation depth of 2" in body["errors"][0]["message"]


def test_aliases_in_a_fragment_count_once_however_often_it_is_spread(
    limited: Callable[..., TestClient],
) -> None:
    query = "{ ...A ...B } fragment A on Query { ...C ...C } fragment B on Query { ...C } " + (
        "fragment C on Query { x: __typename y: __typename }"
    )
    assert graphql(limited(graphql_max_aliases=2), query) == {"data": {"x": "Query", "y": "Query"}}


def test_a_request_over_the_cost_limit_is_a_400_naming_cost_and_limit(
    client: TestClient, alice: Account
) -> None:
    response = post(client, {"query": "{ " + aliased(PAGE_WITH_OWNERS, 5) + " }"}, alice)
    status, code, message = refusal(response)
    assert (status, code) == (400, "QUERY_TOO_COSTLY")
    assert "5005" in message
    assert "5000" in message


def test_a_page_of_tasks_with_owners_costs_one_more_than_twice_its_first(
    limited: Callable[..., TestClient], alice: Account
) -> None:
    query = "{ " + PAGE_WITH_OWNERS + " }"
    refused = post(limited(graphql_max_cost=1000), {"query": query}, alice)
    assert refusal(refused)[:2] == (400, "QUERY_TOO_COSTLY")
    answered = post(limited(graphql_max_cost=1001), {"query": query}, alice)
    assert answered.json() == {"data": {"tasks": {"nodes": []}}}


def test_the_default_page_counts_when_first_is_not_given(
    limited: Callable[..., TestClient], alice: Account
) -> None:
    response = post(limited(graphql_max_cost=50), {"query": "{ tasks { nodes { id } } }"}, alice)
    assert refusal(response)[:2] == (400, "QUERY_TOO_COSTLY")  # 1 + 50


def test_first_given_as_a_variable_counts(client: TestClient, alice: Account) -> None:
    query = "query($n: Int) { " + aliased("tasks(first: $n) { nodes { id } }", 11) + " }"
    refused = post(client, {"query": query, "variables": {"n": 500}}, alice)
    assert refusal(refused)[:2] == (400, "QUERY_TOO_COSTLY")
    answered = post(client, {"query": query, "variables": {"n": 10}}, alice)
    assert "errors" not in answered.json()


def test_first_given_as_a_whole_float_counts_as_graphql_takes_it(
    client: TestClient, alice: Account
) -> None:
    """GraphQL's Int takes 500.0 as 500: the cost must too."""
    query = "query($n: Int) { " + aliased("tasks(first: $n) { nodes { id } }", 11) + " }"
    refused = post(client, {"query": query, "variables": {"n": 500.0}}, alice)
    assert refusal(refused)[:2] == (400, "QUERY_TOO_COSTLY")


def test_the_operations_of_a_batch_add_up(client: TestClient, alice: Account) -> None:
    one = {"query": "{ " + PAGE_WITH_OWNERS + " }"}
    assert all("errors" not in answer for answer in post(client, [one] * 4, alice).json())
    assert refusal(post(client, [one] * 5, alice))[:2] == (400, "QUERY_TOO_COSTLY")


def test_a_refused_batch_runs_none_of_its_operations(client: TestClient, alice: Account) -> None:
    create = {"query": 'mutation { createTask(input: {title: "never"}) { id } }'}
    costly = {"query": "{ " + aliased(PAGE_WITH_OWNERS, 5) + " }"}
    assert post(client, [create, costly], alice).status_code == 400
    assert created_tasks(client, alice) == 0


def test_a_costly_subscription_gets_an_error_message(
    limited: Callable[..., TestClient], alice: Account
) -> None:
    client = limited(graphql_max_cost=2)
    query = "subscription { taskEvents { task { owner { name } } } }"  # 1 + 1 + 1
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json(
            {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {alice.access_token}"},
            }
        )
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": query}})
        message = ws.receive_json()
    assert (message["type"], message["id"]) == ("error", "1")
    assert message["payload"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


CREATE = 'createTask(input: {title: "t"}) { id }'


def test_more_mutation_fields_than_allowed_are_refused_and_none_runs(
    client: TestClient, alice: Account
) -> None:
    response = post(client, {"query": "mutation { " + aliased(CREATE, 21) + " }"}, alice)
    status, code, message = refusal(response)
    assert (status, code) == (400, "BAD_REQUEST")
    assert "21 mutation fields" in message
    assert created_tasks(client, alice) == 0


def test_the_allowed_number_of_mutation_fields_runs(client: TestClient, alice: Account) -> None:
    response = post(client, {"query": "mutation { " + aliased(CREATE, 20) + " }"}, alice)
    assert "errors" not in response.json()
    assert created_tasks(client, alice) == 20


def test_mutation_fields_of_a_batch_add_up(client: TestClient, alice: Account) -> None:
    seven = {"query": "mutation { " + aliased(CREATE, 7) + " }"}
    response = post(client, [seven] * 3, alice)
    assert refusal(response)[:2] == (400, "BAD_REQUEST")
    assert created_tasks(client, alice) == 0


BATCH_REFUSALS = {
    "too many operations": [{"query": "{ me { id } }"}] * 11,
    "an empty array": [],
    "a cost limit": [{"query": "{ " + aliased(PAGE_WITH_OWNERS, 3) + " }"}] * 2,
    "a mutation limit": [{"query": "mutation { " + aliased(CREATE, 11) + " }"}] * 2,
}


@pytest.mark.parametrize("batch", BATCH_REFUSALS.values(), ids=BATCH_REFUSALS)
def test_a_batch_refused_as_a_whole_is_application_json_whatever_the_accept(
    client: TestClient, alice: Account, batch: list[Any]
) -> None:
    response = post(client, batch, alice, Accept=APOLLO_ACCEPT)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["message"]


def test_a_single_operation_refused_for_its_cost_keeps_the_preferred_type(
    client: TestClient, alice: Account
) -> None:
    body = {"query": "{ " + aliased(PAGE_WITH_OWNERS, 5) + " }"}
    response = post(client, body, alice, Accept=APOLLO_ACCEPT)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(RESPONSE_JSON)


MALFORMED = {
    "operationName": {"query": "{ me { id } }", "operationName": {"not": "a name"}},
    "query": {"query": 5},
    "variables": {"query": "{ me { id } }", "variables": "first=500"},
    "extensions": {"query": "{ me { id } }", "extensions": ["persistedQuery"]},
}


@pytest.mark.parametrize(("field", "operation"), MALFORMED.items(), ids=MALFORMED)
def test_a_malformed_operation_refuses_its_batch_naming_the_field(
    client: TestClient, field: str, operation: dict[str, Any]
) -> None:
    response = post(client, [{"query": "{ __typename }"}, operation])
    status, code, message = refusal(response)
    assert (status, code) == (400, "BAD_REQUEST")
    assert message.startswith(f"Operation 2 of the batch: `{field}` must be")


def test_a_long_chain_of_fragments_is_answered_not_a_500(
    limited: Callable[..., TestClient],
) -> None:
    """Measured one fragment after another, not by recursing from each into the next: 1,000
    fragments (within a raised token limit) cost no Python stack."""
    chain = " ".join(
        f"fragment F{i} on Query {{ ... on Query {{ ...F{i + 1} }} }}" for i in range(1000)
    )
    query = "{ ...F0 } " + chain + " fragment F1000 on Query { __typename }"
    response = post(limited(graphql_max_tokens=100_000), {"query": query})
    assert response.status_code == 200
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
