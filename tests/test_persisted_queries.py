"""Persisted queries (contract: "Persisted queries and the HTTP rules of GraphQL"): Apollo's
automatic persisted queries over POST, GET and batches, shared through the database, bounded;
and trusted documents from an Apollo manifest, alone with GRAPHQL_TRUSTED_ONLY."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from app.factory import create_app
from app.settings import Settings
from models import PersistedQuery
from resolvers.persisted_queries import STORED_DOCUMENT_MAX_CHARS
from tests.support import Account, create_task, database, error_codes

STATS = "{ taskStats { total } }"
TITLES = "query Titles { tasks { nodes { title } } }"
NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document)}}


def by_hash(client: TestClient, document: str, account: Account | None = None) -> Response:
    headers = account.headers if account else {}
    return client.post("/graphql", json={"extensions": persisted(document)}, headers=headers)


def in_full(client: TestClient, document: str, account: Account | None = None) -> Response:
    body = {"query": document, "extensions": persisted(document)}
    return client.post("/graphql", json=body, headers=account.headers if account else {})


def test_an_unknown_hash_alone_is_persisted_query_not_found(client: TestClient) -> None:
    response = by_hash(client, STATS)
    assert (response.status_code, response.json()) == (200, NOT_FOUND)


def test_a_hash_with_its_document_runs_it(client: TestClient, alice: Account) -> None:
    response = in_full(client, STATS, alice)
    assert response.json() == {"data": {"taskStats": {"total": 0}}}


def test_a_registered_hash_alone_runs_its_document(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "one")
    in_full(client, TITLES, alice)
    response = by_hash(client, TITLES, alice)
    assert response.json() == {"data": {"tasks": {"nodes": [{"title": "one"}]}}}


def test_a_hash_that_does_not_match_its_document_is_a_400_and_stores_nothing(
    client: TestClient, settings: Settings
) -> None:
    body = {"query": STATS, "extensions": persisted("{ me { id } }")}
    response = client.post("/graphql", json=body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": "provided sha does not match query", "extensions": {"code": "BAD_REQUEST"}}
    ]
    assert stored(settings) == 0


def test_registered_documents_are_shared_by_every_instance(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    """The store is the database: a second app on it runs what the first was sent."""
    in_full(client, STATS, alice)
    with TestClient(create_app(settings)) as other:
        assert by_hash(other, STATS, alice).json() == {"data": {"taskStats": {"total": 0}}}


def test_a_hash_over_get_runs_the_registered_document(client: TestClient, alice: Account) -> None:
    in_full(client, STATS, alice)
    params = {"extensions": json.dumps(persisted(STATS))}
    response = client.get("/graphql", params=params, headers=alice.headers)
    assert response.json() == {"data": {"taskStats": {"total": 0}}}


def test_get_registers_a_document_sent_with_its_hash(client: TestClient, alice: Account) -> None:
    params = {"query": STATS, "extensions": json.dumps(persisted(STATS))}
    client.get("/graphql", params=params, headers=alice.headers)
    assert by_hash(client, STATS, alice).json() == {"data": {"taskStats": {"total": 0}}}


def test_get_with_variables_and_operation_name(client: TestClient, alice: Account) -> None:
    document = "query One($id: Int!) { task(id: $id) { title } }"
    task = create_task(client, alice, "found")
    in_full(client, document, alice)
    params = {
        "extensions": json.dumps(persisted(document)),
        "variables": json.dumps({"id": task["id"]}),
        "operationName": "One",
    }
    response = client.get("/graphql", params=params, headers=alice.headers)
    assert response.json() == {"data": {"task": {"title": "found"}}}


def test_each_operation_of_a_batch_is_resolved_on_its_own(
    client: TestClient, alice: Account
) -> None:
    in_full(client, STATS, alice)
    batch = [
        {"extensions": persisted(STATS)},
        {"extensions": persisted(TITLES)},
        {"query": TITLES, "extensions": persisted(TITLES)},
    ]
    response = client.post("/graphql", json=batch, headers=alice.headers)
    assert response.json() == [
        {"data": {"taskStats": {"total": 0}}},
        NOT_FOUND,
        {"data": {"tasks": {"nodes": []}}},
    ]


def test_a_batch_with_one_refused_operation_runs_none(client: TestClient, alice: Account) -> None:
    batch = [
        {"query": 'mutation { createTask(input: {title: "not made"}) { id } }'},
        {"query": STATS, "extensions": persisted("{ me { id } }")},
    ]
    assert client.post("/graphql", json=batch, headers=alice.headers).status_code == 400
    assert client.get("/api/tasks", headers=alice.headers).json() == []


@pytest.mark.parametrize(
    "extension",
    [
        {"version": 2, "sha256Hash": "0" * 64},
        {"version": 1, "sha256Hash": "XYZ"},
        {"version": 1, "sha256Hash": "A" * 64},
        {"version": 1},
        "hash",
        [1],
    ],
)
def test_a_malformed_persisted_query_extension_is_a_400(client: TestClient, extension: Any) -> None:
    body = {"extensions": {"persistedQuery": extension}}
    response = client.post("/graphql", json=body)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_a_document_that_does_not_parse_is_answered_and_not_stored(
    client: TestClient, settings: Settings
) -> None:
    response = in_full(client, "{ taskStats { total }", None)
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")
    assert stored(settings) == 0


def test_the_store_keeps_only_the_newest(
    make_settings: Callable[..., Settings], alice: Account
) -> None:
    settings = make_settings(graphql_persisted_queries_max=2)
    documents = [f"{{ taskStats {{ total }} a{n}: taskStats {{ pending }} }}" for n in range(3)]
    with TestClient(create_app(settings)) as client:
        for document in documents:
            in_full(client, document, alice)
    assert stored(settings) == 2
    with TestClient(create_app(settings)) as fresh:  # an empty cache: only the database answers
        assert by_hash(fresh, documents[0], alice).json() == NOT_FOUND
        assert "data" in by_hash(fresh, documents[2], alice).json()


def stored(settings: Settings) -> int:
    with database(settings) as session:
        count: int = session.execute(select(func.count()).select_from(PersistedQuery)).scalar_one()
    return count


def manifest(tmp_path: Path, *documents: str) -> Path:
    path = tmp_path / "persisted-query-manifest.json"
    operations = [
        {"id": sha256(body), "name": f"op{n}", "type": "query", "body": body}
        for n, body in enumerate(documents)
    ]
    path.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    return path


@pytest.fixture
def trusted_only(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Callable[[], TestClient]:
    def make() -> TestClient:
        settings = make_settings(
            graphql_trusted_documents=manifest(tmp_path, STATS), graphql_trusted_only=True
        )
        return TestClient(create_app(settings))

    return make


def test_a_trusted_document_runs_by_hash_without_registration(
    make_settings: Callable[..., Settings], tmp_path: Path, alice: Account
) -> None:
    settings = make_settings(graphql_trusted_documents=manifest(tmp_path, STATS))
    with TestClient(create_app(settings)) as client:
        assert by_hash(client, STATS, alice).json() == {"data": {"taskStats": {"total": 0}}}


def test_trusted_only_runs_a_trusted_document_by_hash_or_in_full(
    trusted_only: Callable[[], TestClient], alice: Account
) -> None:
    with trusted_only() as client:
        assert by_hash(client, STATS, alice).json() == {"data": {"taskStats": {"total": 0}}}
        plain = client.post("/graphql", json={"query": STATS}, headers=alice.headers)
        assert plain.json() == {"data": {"taskStats": {"total": 0}}}


@pytest.mark.parametrize(
    "body",
    [
        {"query": TITLES},
        {"query": TITLES, "extensions": persisted(TITLES)},
        {"extensions": persisted(TITLES)},
        [{"query": STATS}, {"query": TITLES}],
    ],
    ids=["in full", "registration", "by hash", "in a batch"],
)
def test_trusted_only_refuses_any_other_document(
    trusted_only: Callable[[], TestClient], alice: Account, body: Any, settings: Settings
) -> None:
    with trusted_only() as client:
        response = client.post("/graphql", json=body, headers=alice.headers)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert stored(settings) == 0


def test_trusted_only_needs_a_manifest(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="GRAPHQL_TRUSTED_DOCUMENTS"):
        make_settings(graphql_trusted_only=True)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"format": "something else", "operations": []}),
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "operations": [{"id": "0" * 64, "body": STATS}],
            }
        ),
    ],
    ids=["not json", "another format", "a wrong id"],
)
def test_a_bad_manifest_stops_the_start(
    make_settings: Callable[..., Settings], tmp_path: Path, content: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="GRAPHQL_TRUSTED_DOCUMENTS"):
        create_app(make_settings(graphql_trusted_documents=path))


def test_a_document_too_long_to_keep_runs_but_is_not_stored(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    padding = "#" + "x" * STORED_DOCUMENT_MAX_CHARS + "\n"  # a comment: one document, no tokens
    document = padding + STATS
    assert in_full(client, document, alice).json() == {"data": {"taskStats": {"total": 0}}}
    assert stored(settings) == 0


def test_a_persisted_mutation_by_hash_over_get_is_refused_and_changes_nothing(
    client: TestClient, alice: Account
) -> None:
    """GET stays safe: a link in a page cannot run a registered mutation by its hash."""
    mutation = 'mutation { createTask(input: {title: "by GET"}) { id } }'
    in_full(client, mutation, alice)  # registered (and run once, by POST)
    params = {"extensions": json.dumps(persisted(mutation))}
    response = client.get("/graphql", params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "mutations are not allowed when using GET"
    titles = [task["title"] for task in client.get("/api/tasks", headers=alice.headers).json()]
    assert titles == ["by GET"]  # the POST's task only


TRUSTED_EVENTS = "subscription Events { taskEvents { kind taskId } }"


def subscribe_over_socket(client: TestClient, account: Account, query: str) -> dict[str, Any]:
    """Subscribe over a socket, write a task, and answer the first message the socket gets."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        init = {"authorization": f"Bearer {account.access_token}"}
        ws.send_json({"type": "connection_init", "payload": init})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": query}})
        create_task(client, account, "written after subscribing")
        message: dict[str, Any] = ws.receive_json()
        return message


@pytest.fixture
def trusted_subscriptions(make_settings: Callable[..., Settings], tmp_path: Path) -> TestClient:
    path = manifest(tmp_path, STATS, TRUSTED_EVENTS)
    settings = make_settings(graphql_trusted_documents=path, graphql_trusted_only=True)
    return TestClient(create_app(settings))


def test_trusted_only_refuses_any_other_subscription_over_a_socket(
    trusted_subscriptions: TestClient, alice: Account
) -> None:
    with trusted_subscriptions as client:
        other = "subscription { taskEvents { kind task { title } } }"
        message = subscribe_over_socket(client, alice, other)
    assert (message["type"], message["id"]) == ("error", "1")
    assert message["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"


def test_trusted_only_runs_a_trusted_subscription_over_a_socket(
    trusted_subscriptions: TestClient, alice: Account
) -> None:
    with trusted_subscriptions as client:
        message = subscribe_over_socket(client, alice, TRUSTED_EVENTS)
    assert message["type"] == "next"
    assert message["payload"]["data"]["taskEvents"]["kind"] == "CREATED"
