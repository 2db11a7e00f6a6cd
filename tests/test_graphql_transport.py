"""GraphQL over HTTP: batching, limits, GET, GraphiQL, production hardening, hostile bodies."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.factory import create_app
from app.settings import Settings
from tests.support import Account, create_task, error_codes, graphql


def test_a_batch_answers_each_operation_in_order(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "t")
    response = client.post(
        "/graphql",
        json=[
            {"query": "{ me { email } }"},
            {"query": 'mutation { createTask(input: {title: "batched"}) { title } }'},
            {"query": "{ taskStats { total } }"},
        ],
        headers=alice.headers,
    )
    assert response.status_code == 200
    results = response.json()
    assert results[0] == {"data": {"me": {"email": alice.email}}}
    assert results[1] == {"data": {"createTask": {"title": "batched"}}}
    assert results[2]["data"]["taskStats"]["total"] in {1, 2}  # operations run concurrently


def test_an_error_in_one_batched_operation_leaves_the_others(
    client: TestClient, alice: Account
) -> None:
    response = client.post(
        "/graphql",
        json=[
            {"query": "{ task(id: 1) { id } }"},
            {"query": "mutation { toggleTask(id: 9) { id } }"},
        ],
        headers=alice.headers,
    )
    results = response.json()
    assert results[0] == {"data": {"task": None}}
    assert error_codes(results[1]) == ["NOT_FOUND"]


def test_a_batch_over_10_operations_is_a_clear_400(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/graphql", json=[{"query": "{ me { id } }"}] * 11, headers=alice.headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "A batch may hold at most 10 operations; this one holds 11"
    )


def test_a_batch_of_non_objects_is_400(client: TestClient) -> None:
    response = client.post("/graphql", json=[1, "two"])
    assert response.status_code == 400


def test_batch_limit_is_a_setting(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(graphql_max_batch=2))) as client:
        response = client.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "A batch may hold at most 2 operations; this one holds 3"
    )


def test_mutation_over_get_is_refused(client: TestClient, alice: Account) -> None:
    response = client.get(
        "/graphql",
        params={"query": 'mutation { createTask(input: {title: "x"}) { id } }'},
        headers=alice.headers,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "mutations are not allowed when using GET"
    assert client.get("/api/tasks", headers=alice.headers).json() == []


def test_query_over_get_works(client: TestClient, alice: Account) -> None:
    response = client.get("/graphql", params={"query": "{ me { email } }"}, headers=alice.headers)
    assert response.json() == {"data": {"me": {"email": alice.email}}}


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE"])
def test_other_methods_are_405_saying_get_and_post_are_allowed(
    client: TestClient, method: str
) -> None:
    response = client.request(method, "/graphql")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {each.strip() for each in response.headers["allow"].split(",")}


def test_graphiql_is_served_to_browsers(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


@pytest.fixture
def tight_client(make_settings: Callable[..., Settings]) -> TestClient:
    settings = make_settings(graphql_max_depth=3, graphql_max_aliases=2, graphql_max_tokens=40)
    return TestClient(create_app(settings))


def test_depth_limit(tight_client: TestClient) -> None:
    body = graphql(tight_client, "{ tasks { edges { node { owner { id } } } } }")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "depth" in body["errors"][0]["message"]


def test_alias_limit(tight_client: TestClient) -> None:
    body = graphql(tight_client, "{ a: __typename b: __typename c: __typename }")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "aliases" in body["errors"][0]["message"]


def test_token_limit(tight_client: TestClient) -> None:
    body = graphql(tight_client, "{ " + "__typename " * 50 + "}")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "token" in body["errors"][0]["message"].lower()


def test_default_limits_refuse_many_aliases_and_huge_queries(
    client: TestClient, alice: Account
) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(31))
    assert error_codes(graphql(client, "{ " + aliases + " }", account=alice)) == ["BAD_USER_INPUT"]
    repeated = "{ " + "__typename " * 3000 + "}"
    assert error_codes(graphql(client, repeated, account=alice)) == ["BAD_USER_INPUT"]


def test_introspection_ignores_the_depth_limit(tight_client: TestClient) -> None:
    body = graphql(tight_client, "{ __schema { types { fields { type { ofType { name } } } } } }")
    assert "errors" not in body


@pytest.fixture
def production_client(make_settings: Callable[..., Settings]) -> TestClient:
    return TestClient(create_app(make_settings(environment="production")))


def test_production_disables_introspection(production_client: TestClient) -> None:
    body = graphql(production_client, "{ __schema { queryType { name } } }")
    assert "data" not in body or body["data"] is None
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}


def test_production_hides_field_suggestions(production_client: TestClient) -> None:
    body = graphql(production_client, "{ tsks { totalCount } }")
    assert "Did you mean" not in body["errors"][0]["message"]


def test_production_does_not_serve_graphiql(production_client: TestClient) -> None:
    response = production_client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()


def test_invalid_json_body_is_400(client: TestClient) -> None:
    response = client.post(
        "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("body", [b"null", b"1", b"true", b'"x"', b"1.5"])
def test_a_json_body_that_is_no_object_or_array_is_400_bad_request(
    client: TestClient, body: bytes
) -> None:
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "JSON object" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"query": "\xff"}'])
def test_deep_or_non_utf8_json_is_400_not_500(client: TestClient, body: bytes) -> None:
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_body_over_one_mebibyte_is_413(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ __typename }", "x": "y" * 2_000_000})
    assert response.status_code == 413


def test_unexpected_errors_are_masked(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import listing_filters

    def explode(*_args: object) -> None:
        raise RuntimeError("secret internals: SELECT * FROM users")

    monkeypatch.setattr(listing_filters, "task_stats", explode)
    body = graphql(client, "{ taskStats { total } }", account=alice)
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "secret" not in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "query",
    [
        "{ a: __typename b: __typename c: __typename }",  # over the alias limit
        "{ tasks { edges { node { owner { id } } } } }",  # over the depth limit
        "{ " + "__typename " * 50 + "}",  # over the token limit
        "{ tasks { ",  # a syntax error
    ],
)
def test_refusals_hold_when_a_query_repeats(tight_client: TestClient, query: str) -> None:
    """Parsing and validation are cached by query text; a cached refusal is still a refusal."""
    for _ in range(3):
        assert error_codes(graphql(tight_client, query)) == ["BAD_USER_INPUT"]
