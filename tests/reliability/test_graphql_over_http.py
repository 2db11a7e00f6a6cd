"""Real GraphQL clients against a real server: the reference audit of the GraphQL-over-HTTP
specification (`graphql-http`'s `serverAudits`), and Apollo Client's persisted-query, batch and
graphql-ws links (contract: "Persisted queries and the HTTP rules of GraphQL", "Live events")."""

import uuid
from typing import Any

from tests.reliability.live import register
from tests.reliability.node_tools import run_node
from tests.reliability.servers import Server


def test_every_graphql_over_http_audit_passes(live_server: Server) -> None:
    results = run_node("audit.mjs", f"{live_server.url}/graphql")
    assert len(results) >= 61  # the version pinned runs 61
    assert [result for result in results if result["status"] != "ok"] == []


def _apollo(server: Server, access_token: str) -> Any:
    """Apollo Client's steps, with documents of their own (the server is shared)."""
    nonce = uuid.uuid4().hex
    return run_node("apollo.mjs", f"{server.url}/graphql", access_token, nonce)


def _request(method: str, with_document: bool, operations: int = 1) -> dict[str, Any]:
    return {"method": method, "withDocument": with_document, "operations": operations}


def test_apollo_clients_persisted_query_link_works_by_hash(live_server: Server) -> None:
    """A new document: a GET by hash, PersistedQueryNotFound, one POST with the document; the
    next client (another process's cache is empty) needs only the GET by hash."""
    account = register(live_server.url)
    steps = _apollo(live_server, account.access_token)
    stats = {"taskStats": {"__typename": "TaskStats", "total": 0, "pending": 0}}
    assert steps["first"] == {
        "data": [stats],
        "requests": [_request("GET", False), _request("POST", True)],
    }
    assert steps["again"] == {"data": [stats], "requests": [_request("GET", False)]}


def test_apollo_clients_batch_link_sends_hashes_and_resends_only_the_unknown(
    live_server: Server,
) -> None:
    account = register(live_server.url)
    steps = _apollo(live_server, account.access_token)
    titles = {"tasks": {"__typename": "TaskConnection", "nodes": []}}
    assert steps["batch"]["data"][1] == titles
    assert steps["batch"]["requests"] == [_request("POST", False, 2), _request("POST", True)]


def test_apollo_clients_batch_link_reports_an_oversized_batch_as_a_server_error(
    live_server: Server,
) -> None:
    """Refused as a whole, the batch is `application/json`: each query gets the server's 400 and
    its message, not "server returned results with length 1, expected length of 11"."""
    account = register(live_server.url)
    reported = _apollo(live_server, account.access_token)["oversized"]
    message = "A batch may hold at most 10 operations; this one holds 11"
    assert reported == [{"name": "ServerError", "statusCode": 400, "message": message}] * 11


def test_apollo_clients_graphql_ws_link_gets_events_and_stops_at_4401(
    live_server: Server,
) -> None:
    """A subscription through `GraphQLWsLink` sees the task Apollo's own mutation created; a
    logout closes the socket with 4401, which graphql-ws treats as final."""
    account = register(live_server.url)
    outcome = run_node(
        "live.mjs", f"{live_server.url}/graphql", account.access_token, account.refresh_token
    )
    assert outcome["event"] == {
        "__typename": "TaskEvent",
        "kind": "CREATED",
        "taskId": outcome["taskId"],
        "version": 1,
    }
    assert outcome["closeCode"] == 4401
