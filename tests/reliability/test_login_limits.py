"""Login and signup limits over real sockets: many right-password logins at once never lock an
account, and the client address is the socket peer unless that peer is a trusted proxy."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, migrate
from tests.reliability.live import at_once, register, unique_email
from tests.reliability.servers import Server, admin_url, fresh_database, server_env, uvicorn_server
from tests.support import PASSWORD

WRONG = "Wrong-password-1"
LOGIN = "mutation ($i: LoginInput!) { login(input: $i) { tokens { accessToken } } }"


@contextlib.contextmanager
def server_on(backend: str, logs: Path, **settings: str) -> Iterator[Server]:
    """A server of its own on a fresh database of `backend`, with `settings` in its environment."""
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            url = stack.enter_context(fresh_database(admin_url()))
        else:
            url = f"sqlite:///{logs / unique_email('limits')}.db"
            migrate(url)
        yield stack.enter_context(uvicorn_server(server_env(url, **settings), logs))


def _login(server: Server, email: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    body = {"email": email, "password": password}
    return httpx.post(f"{server.url}/api/auth/login", json=body, headers=headers).status_code


def test_thirty_right_password_logins_at_once_never_lock_the_account(live_server: Server) -> None:
    account = register(live_server.url)

    async def log_in(client: httpx.AsyncClient, _index: int) -> int:
        body = {"email": account.email, "password": PASSWORD}
        return (await client.post("/api/auth/login", json=body)).status_code

    statuses = at_once(live_server.url, 30, log_in)
    assert set(statuses) <= {200, 429}, statuses  # 429 only while others are in flight
    assert _login(live_server, account.email, PASSWORD) == 200
    # Nothing of theirs was counted: the whole window (5) is there for failures.
    failures = [_login(live_server, account.email, WRONG) for _ in range(6)]
    assert failures == [401] * 5 + [429]


def test_batches_of_right_password_logins_never_lock_the_account(live_server: Server) -> None:
    account = register(live_server.url)
    operation = {"query": LOGIN, "variables": {"i": {"email": account.email, "password": PASSWORD}}}

    async def batch(client: httpx.AsyncClient, _index: int) -> int:
        return (await client.post("/graphql", json=[operation] * 10)).status_code

    assert at_once(live_server.url, 10, batch) == [200] * 10
    assert _login(live_server, account.email, PASSWORD) == 200


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    if backend == "postgresql":
        request.getfixturevalue("postgres_server")
    return backend


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(
    backend: str, server_logs: Path
) -> None:
    limits = {"LOGIN_MAX_FAILURES_PER_ADDRESS": "3", "LOGIN_MAX_FAILURES": "100"}
    with server_on(backend, server_logs, FORWARDED_ALLOW_IPS="", **limits) as server:
        statuses = [
            _login(server, unique_email("x"), WRONG, forwarded_for=f"198.51.100.{n}")
            for n in range(4)
        ]
    assert statuses == [401, 401, 401, 429]  # every attempt counted against the real peer


def test_a_forwarded_address_from_a_trusted_proxy_is_the_client(
    backend: str, server_logs: Path
) -> None:
    limits = {"LOGIN_MAX_FAILURES_PER_ADDRESS": "3", "LOGIN_MAX_FAILURES": "100"}
    with server_on(backend, server_logs, FORWARDED_ALLOW_IPS="127.0.0.1", **limits) as server:
        first = [_login(server, unique_email("x"), WRONG, "198.51.100.1") for _ in range(4)]
        second = _login(server, unique_email("x"), WRONG, "198.51.100.2")
    assert first == [401, 401, 401, 429]
    assert second == 401
