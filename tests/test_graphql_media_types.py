"""GraphQL over HTTP (contract: "Persisted queries and the HTTP rules of GraphQL"): a client that
prefers `application/graphql-response+json` gets it, and then a request error (parse, validation,
variable coercion) is a 400 with no `data`; `application/json` answers stay as they were."""

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from resolvers.media_types import prefers_graphql_response
from tests.support import Account

RESPONSE_JSON = "application/graphql-response+json"
BOTH = f"{RESPONSE_JSON}, application/json;q=0.9"  # what Apollo Client sends
REQUEST_ERRORS = {
    "does not parse": ("{ taskStats { total }", None),
    "does not validate": ("{ taskStats { nope } }", None),
    "variables do not coerce": ("query($id: Int!) { task(id: $id) { id } }", {"id": "seven"}),
}


def post(client: TestClient, body: Any, accept: str, account: Account | None = None) -> Response:
    headers = {"Accept": accept, **(account.headers if account else {})}
    return client.post("/graphql", json=body, headers=headers)


def test_a_client_preferring_graphql_response_json_gets_it(
    client: TestClient, alice: Account
) -> None:
    response = post(client, {"query": "{ taskStats { total } }"}, BOTH, alice)
    assert response.headers["content-type"].startswith(RESPONSE_JSON)
    assert (response.status_code, response.json()) == (200, {"data": {"taskStats": {"total": 0}}})


@pytest.mark.parametrize(("document", "variables"), REQUEST_ERRORS.values(), ids=REQUEST_ERRORS)
def test_a_request_error_is_a_400_without_data(
    client: TestClient, alice: Account, document: str, variables: Any
) -> None:
    response = post(client, {"query": document, "variables": variables}, RESPONSE_JSON, alice)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(RESPONSE_JSON)
    assert "data" not in response.json()
    assert response.json()["errors"]


@pytest.mark.parametrize(("document", "variables"), REQUEST_ERRORS.values(), ids=REQUEST_ERRORS)
def test_with_application_json_a_request_error_stays_a_200_with_null_data(
    client: TestClient, alice: Account, document: str, variables: Any
) -> None:
    response = post(client, {"query": document, "variables": variables}, "application/json", alice)
    assert response.headers["content-type"].startswith("application/json")
    assert response.status_code == 200
    assert response.json()["data"] is None


def test_an_execution_error_keeps_its_200_and_data(client: TestClient) -> None:
    """An error raised by a field (here: no token) is not a request error."""
    response = post(client, {"query": "{ taskStats { total } }"}, RESPONSE_JSON)
    assert response.status_code == 200
    assert "data" in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_batch_keeps_its_200_and_drops_data_only_where_nothing_ran(
    client: TestClient, alice: Account
) -> None:
    batch = [{"query": "{ taskStats { total } }"}, {"query": "{ nope }"}]
    response = post(client, batch, RESPONSE_JSON, alice)
    assert response.status_code == 200
    first, second = response.json()
    assert first == {"data": {"taskStats": {"total": 0}}}
    assert "data" not in second
    assert second["errors"]


def test_a_refused_request_gets_the_preferred_type_too(client: TestClient) -> None:
    response = post(client, 1, RESPONSE_JSON)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(RESPONSE_JSON)


def test_a_batch_refused_as_a_whole_stays_application_json(client: TestClient) -> None:
    """Apollo's BatchHttpLink reads one object in the GraphQL response type as a malformed
    batch ("results with length 1, expected length of 11"); as `application/json` it reports the
    server's error on each operation (tests/test_graphql_limits.py: every kind of refusal)."""
    response = post(client, [{"query": "{ me { id } }"}] * 11, BOTH)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")


def test_an_unknown_persisted_query_stays_a_200(client: TestClient) -> None:
    digest = hashlib.sha256(b"{ me { id } }").hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    response = post(client, {"extensions": extensions}, BOTH)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("accept", "preferred"),
    [
        (RESPONSE_JSON, True),
        (BOTH, True),
        (f"application/json, {RESPONSE_JSON}", True),  # a tie goes to the specification's type
        (f"application/json, {RESPONSE_JSON};q=0.5", False),
        (f"{RESPONSE_JSON};q=0", False),
        (f"{RESPONSE_JSON};q=nonsense", False),
        ("*/*", False),
        ("application/json", False),
        (None, False),
    ],
)
def test_the_preference_follows_the_accept_weights(accept: str | None, preferred: bool) -> None:
    assert prefers_graphql_response(accept) is preferred
