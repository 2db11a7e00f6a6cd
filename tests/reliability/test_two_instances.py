"""Two server processes on one PostgreSQL database and one Redis: they act as one service,
live events included (NOTIFY from one, the listener of the other).

Both get the same JWT_SECRET; login throttling counts in Redis (TEST_REDIS_URL, default
redis://127.0.0.1:6379/13), with a fresh email per test so runs never share a count.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import REDIS_URL, redis_reachable
from tests.reliability.live import at_once, login, register, unique_email
from tests.reliability.servers import Server, fresh_database, server_env, uvicorn_server
from tests.reliability.sockets import live_socket
from tests.support import PASSWORD, Account

MAX_FAILURES = 4
WRONG = "Wrong-password-1"


@dataclass
class Pair:
    a: Server
    b: Server
    shared_throttle: bool


@pytest.fixture(scope="module")
def pair(postgres_server: str, server_logs: Path) -> Iterator[Pair]:
    shared = redis_reachable(REDIS_URL)
    env = server_env(
        "",
        RATE_LIMIT_STORAGE_URL=REDIS_URL if shared else "memory://",
        LOGIN_MAX_FAILURES=str(MAX_FAILURES),
        LOGIN_WINDOW_SECONDS="120",
    )
    with fresh_database(postgres_server) as url:
        env["DATABASE_URL"] = url
        with uvicorn_server(env, server_logs) as a, uvicorn_server(env, server_logs) as b:
            yield Pair(a, b, shared)


def _refresh(server: Server, token: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/auth/refresh", json={"refresh_token": token})


def test_an_access_token_from_one_instance_works_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    me = httpx.get(f"{pair.b.url}/api/auth/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["email"] == account.email
    created = httpx.post(f"{pair.b.url}/api/tasks", json={"title": "on b"}, headers=account.headers)
    listed = httpx.get(f"{pair.a.url}/api/tasks", headers=account.headers)
    assert [task["id"] for task in listed.json()] == [created.json()["id"]]


def test_a_refresh_token_rotated_on_one_instance_is_retired_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    rotated = _refresh(pair.a, account.refresh_token)
    assert rotated.status_code == 200
    newest = _refresh(pair.b, rotated.json()["refresh_token"])
    assert newest.status_code == 200
    replay = _refresh(pair.b, account.refresh_token)  # its successor was used: no grace
    assert replay.status_code == 401
    # The replay was taken as theft: the chain, wherever its tokens came from, is revoked.
    assert _refresh(pair.a, newest.json()["refresh_token"]).status_code == 401


def test_parallel_refreshes_of_one_token_on_both_instances_answer_one_successor(
    pair: Pair,
) -> None:
    account = register(pair.a.url)

    async def refresh(client: httpx.AsyncClient, index: int) -> httpx.Response:
        server = pair.a if index % 2 else pair.b
        return await client.post(
            f"{server.url}/api/auth/refresh", json={"refresh_token": account.refresh_token}
        )

    responses = at_once(pair.a.url, 10, refresh)
    assert [response.status_code for response in responses] == [200] * 10
    successors = {response.json()["refresh_token"] for response in responses}
    assert len(successors) == 1  # exactly one rotation, answered to every double submit
    assert _refresh(pair.b, successors.pop()).status_code == 200


def test_logout_on_one_instance_holds_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    logout = httpx.post(
        f"{pair.a.url}/api/auth/logout",
        json={"refresh_token": account.refresh_token},
        headers=account.headers,
    )
    assert logout.status_code == 200
    assert _refresh(pair.b, account.refresh_token).status_code == 401


def test_throttling_counts_failed_logins_across_both_instances(pair: Pair) -> None:
    if not pair.shared_throttle:
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL)")
    account = register(pair.a.url)
    servers = [pair.a, pair.b]
    statuses = [
        httpx.post(
            f"{servers[attempt % 2].url}/api/auth/login",
            json={"email": account.email, "password": WRONG},
        ).status_code
        for attempt in range(MAX_FAILURES + 1)
    ]
    assert statuses == [401] * MAX_FAILURES + [429]
    # Throttled on both, even with the right password.
    for server in servers:
        response = httpx.post(
            f"{server.url}/api/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0


def test_simultaneous_failed_logins_on_both_instances_cannot_slip_past_the_limit(
    pair: Pair,
) -> None:
    if not pair.shared_throttle:
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL)")
    email = unique_email("storm")  # unknown emails are throttled alike

    async def attempt(client: httpx.AsyncClient, index: int) -> int:
        server = pair.a if index % 2 else pair.b
        body = {"email": email, "password": WRONG}
        return (await client.post(f"{server.url}/api/auth/login", json=body)).status_code

    statuses = at_once(pair.a.url, 20, attempt)
    assert Counter(statuses) == {401: MAX_FAILURES, 429: 20 - MAX_FAILURES}


def test_a_session_ended_on_one_instance_stops_its_access_token_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    assert httpx.get(f"{pair.b.url}/api/tasks", headers=account.headers).status_code == 200
    body = {"refresh_token": account.refresh_token}
    assert httpx.post(
        f"{pair.a.url}/api/auth/logout", json=body, headers=account.headers
    ).is_success
    assert httpx.get(f"{pair.b.url}/api/tasks", headers=account.headers).status_code == 401
    query = {"query": "{ me { email } }"}
    answer = httpx.post(f"{pair.b.url}/graphql", json=query, headers=account.headers).json()
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _stopped_on(server: Server, account: Account) -> bool:
    """The account's access token is refused on both doors of `server`."""
    rest = httpx.get(f"{server.url}/api/tasks", headers=account.headers).status_code
    query = {"query": "{ me { email } }"}
    answer = httpx.post(f"{server.url}/graphql", json=query, headers=account.headers).json()
    codes = [error["extensions"]["code"] for error in answer.get("errors", [])]
    return (rest, codes) == (401, ["UNAUTHENTICATED"])


def test_a_session_revoked_on_one_instance_stops_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    with httpx.Client(base_url=pair.b.url) as client:
        other = login(client, account.email)
    sessions = httpx.get(f"{pair.b.url}/api/auth/sessions", headers=account.headers).json()
    (other_id,) = [session["id"] for session in sessions if not session["current"]]
    revoked = httpx.delete(f"{pair.a.url}/api/auth/sessions/{other_id}", headers=account.headers)
    assert revoked.status_code == 200
    assert _stopped_on(pair.b, other)
    assert not _stopped_on(pair.b, account)


def test_a_password_changed_on_one_instance_ends_the_other_sessions_on_the_other(
    pair: Pair,
) -> None:
    account = register(pair.a.url)
    with httpx.Client(base_url=pair.b.url) as client:
        other = login(client, account.email)
    body = {"current_password": PASSWORD, "new_password": "Battery-Staple-7"}
    changed = httpx.post(f"{pair.a.url}/api/auth/password", json=body, headers=account.headers)
    assert changed.status_code == 200
    assert _stopped_on(pair.b, other)
    assert not _stopped_on(pair.b, account)


def test_an_account_deleted_on_one_instance_stops_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    deleted = httpx.request(
        "DELETE",
        f"{pair.a.url}/api/auth/me",
        json={"password": PASSWORD},
        headers=account.headers,
    )
    assert deleted.status_code == 200
    assert _stopped_on(pair.b, account)


def _create(server: Server, account: Account, title: str) -> int:
    created = httpx.post(f"{server.url}/api/tasks", json={"title": title}, headers=account.headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_a_write_on_one_instance_is_announced_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    with live_socket(pair.b.url, account.access_token) as socket:
        socket.wait_until_live(lambda: _create(pair.a, account, "primer"))
        task_id = _create(pair.a, account, "from a")
        event = socket.next_event()
    assert (event["kind"], event["taskId"], event["version"]) == ("CREATED", task_id, 1)


def test_writes_through_both_instances_arrive_in_version_order(pair: Pair) -> None:
    account = register(pair.a.url)
    task_id = _create(pair.a, account, "contended")

    async def rename(client: httpx.AsyncClient, index: int) -> httpx.Response:
        server = pair.a if index % 2 else pair.b
        return await client.patch(
            f"{server.url}/api/tasks/{task_id}",
            json={"title": f"v{index}"},
            headers=account.headers,
        )

    with live_socket(pair.b.url, account.access_token) as socket:
        socket.wait_until_live(lambda: _create(pair.a, account, "primer"))
        answers = at_once(pair.a.url, 20, rename)
        assert [answer.status_code for answer in answers] == [200] * 20
        versions = [socket.next_event()["version"] for _ in range(20)]
    assert versions == list(range(2, 22))  # each write once, in the order they committed


def test_a_session_ended_on_one_instance_closes_its_socket_on_the_other(pair: Pair) -> None:
    account = register(pair.a.url)
    with live_socket(pair.b.url, account.access_token) as socket:
        socket.wait_until_live(lambda: _create(pair.a, account, "primer"))
        body = {"refresh_token": account.refresh_token}
        httpx.post(f"{pair.a.url}/api/auth/logout", json=body, headers=account.headers)
        assert socket.close_code() == 4401


def test_a_subscriber_on_another_instance_sees_only_its_own_tasks(pair: Pair) -> None:
    alice, bob = register(pair.a.url), register(pair.a.url)
    with live_socket(pair.b.url, alice.access_token) as socket:
        socket.wait_until_live(lambda: _create(pair.a, alice, "primer"))
        _create(pair.a, bob, "bob's")
        mine = _create(pair.a, alice, "alice's")
        assert socket.next_event()["taskId"] == mine
