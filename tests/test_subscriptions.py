"""Live events over `graphql-transport-ws` (the contract's "Live events (subscriptions)"), in
process on each database: on PostgreSQL through NOTIFY and the instance's listener."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from app.factory import create_app
from app.security import decode_token, encode_claims
from app.services import tasks as task_service
from app.settings import Settings
from app.statements import Runner
from models.task import TaskCreate
from models.utc import utcnow
from resolvers import sockets
from tests.support import PASSWORD, Account, close_code, create_task, graphql, login, register

EVENTS = "subscription { taskEvents { kind taskId version at task { id title deletedAt } } }"
PROTOCOL = ["graphql-transport-ws"]


def _claims(settings: Settings, account: Account) -> Any:
    return decode_token(account.access_token, key=settings.signing_key, expected_type="access")


@contextmanager
def connected(
    client: TestClient, token: str | None, **headers: str
) -> Iterator[WebSocketTestSession]:
    """A socket that sent `connection_init` with `token`."""
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL, headers=headers) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        ws.send_json({"type": "connection_init", "payload": payload})
        yield ws


@contextmanager
def subscribed(client: TestClient, account: Account, subscriptions: int = 1) -> Iterator[Any]:
    """A socket of `account`'s with `subscriptions` live `taskEvents` subscriptions (ids "1"...),
    returned once the broker holds them all (the protocol acknowledges no subscribe)."""
    app: FastAPI = client.app  # type: ignore[assignment]
    settings: Settings = app.state.runtime.settings
    with connected(client, account.access_token) as ws:
        assert ws.receive_json() == {"type": "connection_ack"}
        for number in range(1, subscriptions + 1):
            ws.send_json({"type": "subscribe", "id": str(number), "payload": {"query": EVENTS}})
        user_id = _claims(settings, account).user_id
        deadline = time.monotonic() + 5
        while app.state.runtime.broker.subscriptions_of(user_id) < subscriptions:
            assert time.monotonic() < deadline, "the subscriptions never started"
            time.sleep(0.01)
        yield ws


def next_event(ws: Any) -> dict[str, Any]:
    message = ws.receive_json()
    assert message["type"] == "next", message
    return message["payload"]["data"]["taskEvents"]


def test_a_task_created_through_rest_is_announced(client: TestClient, alice: Account) -> None:
    with subscribed(client, alice) as ws:
        task = create_task(client, alice, "Buy milk")
        event = next_event(ws)
    assert event["kind"] == "CREATED"
    assert (event["taskId"], event["version"]) == (task["id"], 1)
    assert event["task"] == {"id": task["id"], "title": "Buy milk", "deletedAt": None}
    assert event["at"].replace("+00:00", "Z") == task["updated_at"].replace("+00:00", "Z")


def test_a_task_created_through_graphql_is_announced(client: TestClient, alice: Account) -> None:
    with subscribed(client, alice) as ws:
        created = graphql(
            client, 'mutation { createTask(input: {title: "Walk"}) { id } }', account=alice
        )
        event = next_event(ws)
    assert (event["kind"], event["taskId"]) == ("CREATED", created["data"]["createTask"]["id"])


def test_every_kind_of_write_is_announced_once_in_version_order(
    client: TestClient, alice: Account
) -> None:
    with subscribed(client, alice) as ws:
        task = create_task(client, alice, "Write")
        url = f"/api/tasks/{task['id']}"
        writes = [
            client.patch(url, json={"title": "Write more"}, headers=alice.headers),
            client.patch(f"{url}/toggle", headers=alice.headers),
            client.delete(url, headers=alice.headers),
            client.post(f"/api/trash/{task['id']}/restore", headers=alice.headers),
            client.delete(url, headers=alice.headers),
            client.delete(f"/api/trash/{task['id']}", headers=alice.headers),
        ]
        assert [write.status_code for write in writes] == [200] * 6
        events = [next_event(ws) for _ in range(7)]
    assert [(e["kind"], e["version"]) for e in events] == [
        ("CREATED", 1),
        ("UPDATED", 2),
        ("UPDATED", 3),
        ("DELETED", 4),
        ("RESTORED", 5),
        ("DELETED", 6),
        ("PURGED", 6),  # a purge carries the task's last version
    ]
    assert events[-1]["task"] is None


def test_a_deleted_tasks_event_reads_it_from_the_trash(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "Old")
    with subscribed(client, alice) as ws:
        client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
        event = next_event(ws)
    assert event["kind"] == "DELETED"
    assert event["task"]["deletedAt"] is not None


def test_emptying_the_trash_announces_each_task_purged(client: TestClient, alice: Account) -> None:
    first, second = create_task(client, alice, "One"), create_task(client, alice, "Two")
    for task in (first, second):
        client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    with subscribed(client, alice) as ws:
        client.delete("/api/trash", headers=alice.headers)
        events = [next_event(ws) for _ in range(2)]
    assert sorted((e["kind"], e["taskId"]) for e in events) == [
        ("PURGED", first["id"]),
        ("PURGED", second["id"]),
    ]


def test_a_subscriber_sees_only_its_own_users_tasks(
    client: TestClient, alice: Account, bob: Account
) -> None:
    with subscribed(client, alice) as ws:
        create_task(client, bob, "Bob's secret")
        mine = create_task(client, alice, "Alice's")
        event = next_event(ws)  # the first event that reaches Alice is her own
    assert event["taskId"] == mine["id"]


def test_a_refused_write_announces_nothing(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "Versioned")
    with subscribed(client, alice) as ws:
        stale = client.patch(
            f"/api/tasks/{task['id']}",
            json={"title": "Stale"},
            headers={**alice.headers, "If-Match": '"7"'},
        )
        assert stale.status_code == 412
        client.patch(f"/api/tasks/{task['id']}", json={"title": "Fresh"}, headers=alice.headers)
        event = next_event(ws)
    assert (event["kind"], event["version"]) == ("UPDATED", 2)


def test_a_replayed_idempotent_create_announces_nothing(client: TestClient, alice: Account) -> None:
    headers = {**alice.headers, "Idempotency-Key": "create-once"}
    with subscribed(client, alice) as ws:
        first = client.post("/api/tasks", json={"title": "Once"}, headers=headers)
        replay = client.post("/api/tasks", json={"title": "Once"}, headers=headers)
        assert replay.headers.get("Idempotent-Replayed") == "true"
        marker = create_task(client, alice, "Marker")
        events = [next_event(ws), next_event(ws)]
    assert [e["taskId"] for e in events] == [first.json()["id"], marker["id"]]


class RolledBack(Exception):
    pass


def test_a_rolled_back_write_announces_nothing(client: TestClient, alice: Account) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    viewer = _claims(app.state.runtime.settings, alice)

    def create_then_fail(runner: Runner) -> None:
        with runner.transaction():
            task_service.create_task(runner, viewer, data=TaskCreate(title="Never"))
            raise RolledBack

    with subscribed(client, alice) as ws:
        assert client.portal is not None
        with pytest.raises(RolledBack):
            client.portal.call(app.state.runtime.db.run, create_then_fail)
        marker = create_task(client, alice, "Committed")
        event = next_event(ws)
    assert event["taskId"] == marker["id"]
    listed = client.get("/api/tasks", headers=alice.headers).json()
    assert [task["title"] for task in listed] == ["Committed"]


def test_connection_init_without_a_token_closes_4403(client: TestClient) -> None:
    with connected(client, None) as ws:
        assert close_code(ws) == 4403


def test_connection_init_with_a_bad_token_closes_4403(client: TestClient) -> None:
    with connected(client, "not-a-token") as ws:
        assert close_code(ws) == 4403


def test_connection_init_of_an_ended_session_closes_4403(
    client: TestClient, alice: Account
) -> None:
    _end_by_logout(client, alice)
    with connected(client, alice.access_token) as ws:
        assert close_code(ws) == 4403


def test_the_authorization_key_is_compared_case_insensitively(
    client: TestClient, alice: Account
) -> None:
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        payload = {"AUTHORIZATION": f"Bearer {alice.access_token}"}
        ws.send_json({"type": "connection_init", "payload": payload})
        assert ws.receive_json() == {"type": "connection_ack"}


def test_connection_init_waits_ten_seconds() -> None:
    assert timedelta(seconds=10) == sockets.CONNECTION_INIT_TIMEOUT


def test_no_connection_init_in_time_closes_4408(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "CONNECTION_INIT_TIMEOUT", timedelta(seconds=0.2))
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        assert close_code(ws) == 4408


@pytest.mark.parametrize("subprotocols", [["graphql-ws"], []])
def test_an_upgrade_without_graphql_transport_ws_is_refused(
    client: TestClient, subprotocols: list[str]
) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/graphql", subprotocols=subprotocols),
    ):
        pass  # pragma: no cover - the upgrade never succeeds
    assert refused.value.code == 1008  # closed before it was accepted: HTTP 403 on a real server


def test_an_upgrade_from_a_foreign_origin_is_refused(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(
            "/graphql", subprotocols=PROTOCOL, headers={"Origin": "https://evil.example"}
        ),
    ):
        pass  # pragma: no cover - the upgrade never succeeds
    assert refused.value.code == 1008


@pytest.mark.parametrize("origin", ["http://testserver", "http://localhost:3000"])
def test_an_upgrade_from_the_service_or_a_cors_origin_is_accepted(
    client: TestClient, alice: Account, origin: str
) -> None:
    with connected(client, alice.access_token, Origin=origin) as ws:  # :3000: default CORS
        assert ws.receive_json() == {"type": "connection_ack"}


def _end_by_logout(client: TestClient, account: Account) -> None:
    body = {"refresh_token": account.refresh_token}
    client.post("/api/auth/logout", json=body, headers=account.headers)


def _end_by_revocation(client: TestClient, account: Account) -> None:
    other = login(client, account.email)
    sessions = client.get("/api/auth/sessions", headers=other.headers).json()
    target = next(s["id"] for s in sessions if not s["current"])
    client.delete(f"/api/auth/sessions/{target}", headers=other.headers)


def _end_by_password_change(client: TestClient, account: Account) -> None:
    other = login(client, account.email)
    body = {"current_password": PASSWORD, "new_password": "Another-Horse-10"}
    client.post("/api/auth/password", json=body, headers=other.headers)


def _end_by_account_deletion(client: TestClient, account: Account) -> None:
    client.request("DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=account.headers)


def _end_by_replaying_a_refresh_token(client: TestClient, account: Account) -> None:
    rotated = client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    successor = rotated.json()["refresh_token"]
    client.post("/api/auth/refresh", json={"refresh_token": successor})  # the successor is used
    replay = client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert replay.status_code == 401  # taken as theft: the session ends


@pytest.mark.parametrize(
    "end",
    [
        _end_by_logout,
        _end_by_revocation,
        _end_by_password_change,
        _end_by_account_deletion,
        _end_by_replaying_a_refresh_token,
    ],
)
def test_the_end_of_its_session_closes_a_socket_4401(
    client: TestClient, alice: Account, end: Callable[[TestClient, Account], None]
) -> None:
    with subscribed(client, alice) as ws:
        end(client, alice)
        assert close_code(ws) == 4401


def test_another_sessions_end_leaves_a_socket_open(client: TestClient, alice: Account) -> None:
    other = login(client, alice.email)
    with subscribed(client, alice) as ws:
        _end_by_logout(client, other)
        task = create_task(client, alice, "Still here")
        assert next_event(ws)["taskId"] == task["id"]


def test_the_expiry_of_its_access_token_closes_a_socket_4401(
    client: TestClient, alice: Account
) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    settings: Settings = app.state.runtime.settings
    claims = _claims(settings, alice)
    # Three seconds: a JWT's `exp` is whole seconds, so the token lives at least two, enough for
    # connection_init to find it valid on a loaded machine.
    short = encode_claims(
        replace(claims, expires_at=utcnow() + timedelta(seconds=3)), key=settings.signing_key
    )
    with connected(client, short) as ws:
        assert ws.receive_json() == {"type": "connection_ack"}
        assert close_code(ws) == 4401


def test_an_eleventh_subscription_is_an_error_for_its_id(
    client: TestClient, alice: Account
) -> None:
    with subscribed(client, alice, subscriptions=10) as ws:
        ws.send_json({"type": "subscribe", "id": "11", "payload": {"query": EVENTS}})
        refused = ws.receive_json()
        task = create_task(client, alice, "Fan out")
        events = [ws.receive_json() for _ in range(10)]
    assert (refused["id"], refused["type"]) == ("11", "error")
    assert {e["id"] for e in events} == {str(n) for n in range(1, 11)}
    assert {e["payload"]["data"]["taskEvents"]["taskId"] for e in events} == {task["id"]}


def test_sockets_per_user_are_bounded(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(graphql_max_sockets_per_user=2))) as client:
        alice = register(client, "alice@example.com")
        with connected(client, alice.access_token) as first:
            assert first.receive_json() == {"type": "connection_ack"}
            with connected(client, alice.access_token) as second:
                assert second.receive_json() == {"type": "connection_ack"}
                with connected(client, alice.access_token) as third:
                    assert close_code(third) == 1013
        with connected(client, alice.access_token) as again:  # the two others have closed
            assert again.receive_json() == {"type": "connection_ack"}


@pytest.mark.parametrize(
    "operation", ["{ me { email } }", 'mutation { createTask(input: {title: "x"}) { id } }']
)
def test_queries_and_mutations_are_refused_over_a_socket(
    client: TestClient, alice: Account, operation: str
) -> None:
    with subscribed(client, alice, subscriptions=0) as ws:
        ws.send_json({"type": "subscribe", "id": "q", "payload": {"query": operation}})
        answer = ws.receive_json()
    assert (answer["id"], answer["type"]) == ("q", "error")
    assert "over HTTP" in answer["payload"][0]["message"]
    assert client.get("/api/tasks", headers=alice.headers).json() == []


@pytest.mark.parametrize(
    "message",
    [
        "[1, 2]",
        "1",
        "not json",
        '{"type": "subscribe", "id": "1", "payload": "query"}',
        '{"type": "subscribe", "id": "1", "payload": {"query": 5}}',
        '{"type": "subscribe", "id": ["1"], "payload": {"query": "subscription { x }"}}',
        '{"type": "complete", "id": {"a": 1}}',
    ],
)
def test_a_malformed_message_closes_4400(client: TestClient, alice: Account, message: str) -> None:
    with subscribed(client, alice, subscriptions=0) as ws:
        ws.send_text(message)
        assert close_code(ws) == 4400


def test_a_binary_frame_closes_4400(client: TestClient, alice: Account) -> None:
    with subscribed(client, alice, subscriptions=0) as ws:
        ws.send_bytes(b'{"type": "ping"}')
        assert close_code(ws) == 4400


def test_a_subscription_past_the_token_limit_is_an_error_for_its_id(
    client: TestClient, alice: Account
) -> None:
    huge = "subscription { taskEvents { " + "taskId " * 3000 + "} }"
    with subscribed(client, alice, subscriptions=0) as ws:
        ws.send_json({"type": "subscribe", "id": "big", "payload": {"query": huge}})
        answer = ws.receive_json()
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # the socket is still open
    assert (answer["id"], answer["type"]) == ("big", "error")
    assert "token" in answer["payload"][0]["message"].lower()
