"""Racing requests against a real uvicorn server on PostgreSQL: real threads, real connections.

tests/test_concurrency.py races through the in-process TestClient; these go over sockets to a
server process, so uvicorn's event loop, the worker threads, the connection pool and
PostgreSQL's row locks all take part. Each test gets a server and a database of its own.
"""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.reliability.live import at_once, register, unique_email
from tests.reliability.servers import Server, fresh_database, server_env, uvicorn_server
from tests.support import PASSWORD, Account

BOUND = 10.0  # seconds: no answer may take longer


@pytest.fixture
def server(postgres_server: str, server_logs: Path) -> Iterator[Server]:
    with (
        fresh_database(postgres_server) as url,
        # A short pool timeout: a request stuck waiting for a connection fails fast.
        uvicorn_server(server_env(url, POOL_TIMEOUT="2"), server_logs) as started,
    ):
        yield started


def _stored_tasks(database_url: str, emails: list[str]) -> list[tuple[str, int, str]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT u.email, t.id, t.title FROM tasks t JOIN users u ON u.id = t.user_id"
                    " WHERE u.email = ANY(:emails)"
                ),
                {"emails": emails},
            )
            return [(email, task_id, title) for email, task_id, title in rows]
    finally:
        engine.dispose()


def _count_users(database_url: str, email: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM users WHERE email = :email")
            return int(connection.execute(query, {"email": email}).scalar_one())
    finally:
        engine.dispose()


def _status(response: httpx.Response | Exception) -> int | str:
    return response.status_code if isinstance(response, httpx.Response) else type(response).__name__


def _toggles(server: Server, count: int) -> None:
    alice = register(server.url)
    created = httpx.post(f"{server.url}/api/tasks", json={"title": "flip"}, headers=alice.headers)
    path = f"/api/tasks/{created.json()['id']}/toggle"

    async def toggle(client: httpx.AsyncClient, _: int) -> httpx.Response | Exception:
        try:
            return await client.patch(path, headers=alice.headers, timeout=BOUND)
        except httpx.HTTPError as error:
            return error

    responses = at_once(server.url, count, toggle)

    assert Counter(map(_status, responses)) == {200: count}
    # Each toggle saw the state the one before it left: half flipped to done, half back.
    states = Counter(r.json()["completed"] for r in responses if isinstance(r, httpx.Response))
    assert states == {True: count // 2, False: count // 2}
    final = httpx.get(f"{server.url}{path.removesuffix('/toggle')}", headers=alice.headers)
    assert final.json()["completed"] is False  # an even number of flips


def test_50_parallel_toggles_of_one_task_lose_no_flip(server: Server) -> None:
    """More requests at once than the pool has connections (15): none may wait into a 503."""
    _toggles(server, 50)


def test_20_parallel_signups_of_one_email_create_exactly_one_account(server: Server) -> None:
    email = unique_email("race")

    async def sign_up(client: httpx.AsyncClient, index: int) -> httpx.Response:
        body = {"email": email, "name": f"Racer {index}", "password": PASSWORD}
        return await client.post("/api/auth/signup", json=body, timeout=BOUND)

    responses = at_once(server.url, 20, sign_up)

    assert Counter(response.status_code for response in responses) == {201: 1, 400: 19}
    refused = [response.json() for response in responses if response.status_code == 400]
    assert {body["detail"] for body in refused} == {"Email already registered"}
    assert _count_users(server.database_url, email) == 1
    login = httpx.post(f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200


def _creates(server: Server, count: int) -> None:
    users = [register(server.url) for _ in range(10)]

    async def create(
        client: httpx.AsyncClient, index: int
    ) -> tuple[Account, str, httpx.Response | Exception]:
        owner = users[index % len(users)]
        title = f"task {index}"
        try:
            body = {"title": title}
            response = await client.post(
                "/api/tasks", json=body, headers=owner.headers, timeout=BOUND
            )
        except httpx.HTTPError as error:
            return owner, title, error
        return owner, title, response

    results = at_once(server.url, count, create)

    statuses = Counter(_status(response) for _, _, response in results)
    acknowledged = {
        (owner.email, response.json()["id"], title)
        for owner, title, response in results
        if isinstance(response, httpx.Response) and response.status_code == 201
    }
    # Exactly the acknowledged tasks are stored, each under its owner ...
    stored = _stored_tasks(server.database_url, [user.email for user in users])
    assert len(stored) == statuses[201]
    assert set(stored) == acknowledged
    # ... every request was answered, in time, with 201 ...
    assert statuses == {201: count}
    # ... and each owner's list shows exactly theirs.
    with httpx.Client(base_url=server.url, timeout=BOUND) as client:
        for user in users:
            listing = client.get("/api/tasks", params={"limit": 500}, headers=user.headers)
            listed = {(user.email, task["id"], task["title"]) for task in listing.json()}
            assert listed == {task for task in acknowledged if task[0] == user.email}


def test_200_parallel_creates_across_10_users_leave_exactly_the_acknowledged_tasks(
    server: Server,
) -> None:
    _creates(server, 200)
