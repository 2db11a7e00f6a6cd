"""Fixtures of the reliability tests: real uvicorn servers on fresh databases.

Servers are started once per session and per backend (SQLite always, PostgreSQL when
TEST_DATABASE_URL is set), on a database of their own, and stopped at the end. Tests that need a
real server on PostgreSQL skip without TEST_DATABASE_URL; CI always sets it.
"""

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.python.asgi import shutdown_lifespans

from tests.conftest import BACKENDS, migrate
from tests.reliability.servers import Server, admin_url, fresh_database, server_env, uvicorn_server
from tests.support import Account, create_task

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The psycopg2 URL of the shared PostgreSQL server (its `postgres` database)."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    return admin_url()


@pytest.fixture(scope="session")
def live_servers(server_logs: Path) -> Iterator[Callable[[str], Server]]:
    """`live_servers(backend)`: one real server per backend for the session, started on demand."""
    started: dict[str, Server] = {}
    with contextlib.ExitStack() as stack:

        def get(backend: str) -> Server:
            if backend not in started:
                if backend == "postgresql":
                    url = stack.enter_context(fresh_database(admin_url()))
                else:
                    url = f"sqlite:///{server_logs / 'live.db'}"
                    migrate(url)
                server = stack.enter_context(uvicorn_server(server_env(url), server_logs))
                started[backend] = server
            return started[backend]

        yield get


@pytest.fixture(params=BACKENDS)
def live_server(request: pytest.FixtureRequest, live_servers: Callable[[str], Server]) -> Server:
    """A real server, on each backend in turn."""
    backend: str = request.param
    return live_servers(backend)


@pytest.fixture
def pg_live_server(postgres_server: str, live_servers: Callable[[str], Server]) -> Server:
    """A real server on PostgreSQL (skips without TEST_DATABASE_URL)."""
    return live_servers("postgresql")


def redis_reachable(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture
def target(app: FastAPI, client: TestClient, alice: Account) -> Iterator[FastAPI]:
    """The app on the test's database, with a few tasks so that some generated ids exist."""
    for index in range(3):
        create_task(client, alice, f"seed {index}")
    yield app
    # A started lifespan keeps its app (and engine) until exit; end it with the test.
    shutdown_lifespans()
