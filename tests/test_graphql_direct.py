"""The router answers queries directly (`resolvers.direct`), one or a batch, by document or
persisted hash, and leaves every other request to Strawberry's view. That the two ways answer
alike is checked on every query the tests send (`executors_agree` in conftest.py); here, which
way each kind of request takes."""

import hashlib
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from graphql import parse

from app.settings import Settings
from resolvers.direct import DirectQueries, plain_query
from resolvers.parser_cache import DOCUMENTS_KEPT
from resolvers.schema import build_schema
from tests.support import Account, error_codes

ME = "query { me { email } }"


def _persisted(document: str) -> dict[str, Any]:
    sha = hashlib.sha256(document.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


@pytest.fixture
def direct_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query of each operation the direct way executes."""
    calls: list[str] = []
    execute = DirectQueries.execute

    async def counted(direct: DirectQueries, document: Any, operation: Any, context: Any) -> Any:
        calls.append(operation.query)
        return await execute(direct, document, operation, context)

    monkeypatch.setattr(DirectQueries, "execute", counted)
    return calls


def test_a_plain_query_is_answered_directly(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    response = client.post("/graphql", json={"query": ME}, headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": "alice@example.com"}}}
    assert response.headers["content-type"] == "application/json"
    assert direct_calls == [ME]


def test_a_named_operation_with_variables_is_answered_directly(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    query = (
        "query Mine($n: Int) { tasks(first: $n) { totalCount } } "
        'mutation M { logout(refreshToken: "x") }'
    )
    body = {"query": query, "variables": {"n": 2}, "operationName": "Mine"}
    response = client.post("/graphql", json=body, headers=alice.headers)
    assert response.json() == {"data": {"tasks": {"totalCount": 0}}}
    assert direct_calls == [query]


def test_a_batch_of_plain_queries_is_answered_directly_in_order(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    count = "query { tasks { totalCount } }"
    batch = [{"query": ME}, {"query": count}, {"query": "query { me { nope: email } }"}]
    response = client.post("/graphql", json=batch, headers=alice.headers)
    assert response.json() == [
        {"data": {"me": {"email": "alice@example.com"}}},
        {"data": {"tasks": {"totalCount": 0}}},
        {"data": {"me": {"nope": "alice@example.com"}}},
    ]
    assert sorted(direct_calls) == sorted(each["query"] for each in batch)


def test_a_batch_over_the_cost_limit_runs_none_of_it(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    """Admission adds the batch's costs up (10 pages of 501), on the direct way too."""
    page = {"query": "{ tasks(first: 500) { nodes { id } } }"}
    response = client.post("/graphql", json=[page] * 10, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert direct_calls == []


def test_the_graphql_response_media_type_is_kept_on_the_direct_way(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    headers = {**alice.headers, "Accept": "application/graphql-response+json"}
    response = client.post("/graphql", json={"query": ME}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert direct_calls == [ME]


def test_a_variable_that_does_not_coerce_is_a_400_on_the_direct_way(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    query = "query ($n: Int) { tasks(first: $n) { totalCount } }"
    headers = {**alice.headers, "Accept": "application/graphql-response+json"}
    body = {"query": query, "variables": {"n": "many"}}
    response = client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 400
    assert "data" not in response.json()
    assert direct_calls == [query]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"query": 'mutation { logout(refreshToken: "x") }'}, 200, id="mutation"),
        pytest.param(
            [{"query": ME}, {"query": 'mutation { logout(refreshToken: "x") }'}],
            200,
            id="batch-with-a-mutation",
        ),
        pytest.param(
            [{"query": ME}, {"query": "query { me { nope } }"}],
            200,
            id="batch-with-an-invalid-document",
        ),
        pytest.param({"query": "query { me { nope } }"}, 200, id="invalid"),
        pytest.param({"query": "query { me {"}, 200, id="syntax-error"),
        pytest.param({"query": ME, "operationName": "Other"}, 400, id="unknown-operation"),
        pytest.param({"query": 5}, 400, id="query-not-a-string"),
        pytest.param({"query": ME, "variables": []}, 400, id="variables-not-an-object"),
    ],
)
def test_other_requests_take_strawberrys_way(
    client: TestClient, alice: Account, direct_calls: list[str], body: Any, status: int
) -> None:
    response = client.post("/graphql", json=body, headers=alice.headers)
    assert response.status_code == status, response.text
    assert direct_calls == []


def test_a_persisted_query_is_registered_and_answered_directly(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    body = {"query": ME, "extensions": _persisted(ME)}
    response = client.post("/graphql", json=body, headers=alice.headers)
    assert response.json() == {"data": {"me": {"email": "alice@example.com"}}}
    by_hash = {"extensions": orjson.dumps(_persisted(ME)).decode()}
    again = client.get("/graphql", params=by_hash, headers=alice.headers)
    assert again.json() == response.json()
    assert direct_calls == [ME, ME]


def test_a_hash_nobody_registered_is_answered_directly_as_not_found(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    by_hash = {"extensions": orjson.dumps(_persisted("query { me { id } }")).decode()}
    response = client.get("/graphql", params=by_hash, headers=alice.headers)
    assert response.status_code == 200
    assert error_codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert "data" not in response.json()
    assert direct_calls == []


def test_a_persisted_mutation_over_get_takes_strawberrys_way(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    """The view refuses it: a GET may not mutate."""
    mutation = 'mutation { logout(refreshToken: "x") }'
    registered = {"query": mutation, "extensions": _persisted(mutation)}
    client.post("/graphql", json=registered, headers=alice.headers)
    by_hash = {"extensions": orjson.dumps(_persisted(mutation)).decode()}
    response = client.get("/graphql", params=by_hash, headers=alice.headers)
    assert response.status_code == 400
    assert direct_calls == []


def test_a_query_over_get_without_a_hash_takes_strawberrys_way(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    response = client.get("/graphql", params={"query": ME}, headers=alice.headers)
    assert response.json() == {"data": {"me": {"email": "alice@example.com"}}}
    assert direct_calls == []


def test_a_plain_query_over_the_cost_limit_is_refused_before_it_runs(
    client: TestClient, alice: Account, direct_calls: list[str]
) -> None:
    """Admission is the view's own (`_admit`): 11 pages of 500 cost more than 5,000."""
    pages = " ".join(f"p{n}: tasks(first: 500) {{ nodes {{ id }} }}" for n in range(11))
    response = client.post("/graphql", json={"query": f"{{ {pages} }}"}, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert direct_calls == []


@pytest.mark.parametrize(
    "body",
    [
        {"extensions": None},
        {"query": ME, "extensions": ["a", "list"]},
        {"query": ME, "other": 1},
        {"query": None},
        {"query": ME, "operationName": 3},
        ["not", "an", "object"],
        "a string",
    ],
)
def test_plain_query_takes_only_a_query_its_variables_name_and_extensions(body: object) -> None:
    assert plain_query(body) is None


def test_a_documents_validation_is_answered_again_by_its_identity(settings: Settings) -> None:
    built = build_schema(settings)
    checks, schema = built.checks, built._schema
    valid, invalid = parse("{ me { name } }"), parse("{ me { nowhere } }")
    for _ in range(2):  # the second time from what `checks` kept
        assert checks.validation_errors(schema, valid) == []
        assert [error.message for error in checks.validation_errors(schema, invalid)] == [
            "Cannot query field 'nowhere' on type 'User'."
        ]
    equal_but_not_the_same = parse("{ me { nowhere } }")
    assert checks.validation_errors(schema, equal_but_not_the_same)


def test_validation_answers_are_kept_for_as_many_documents_as_the_parser_keeps(
    settings: Settings,
) -> None:
    schema = build_schema(settings)
    for number in range(DOCUMENTS_KEPT + 40):
        schema.checks.validation_errors(schema._schema, parse(f"{{ a{number}: me {{ name }} }}"))
    assert len(schema.checks._validated) == DOCUMENTS_KEPT  # bounded: a stream of documents
