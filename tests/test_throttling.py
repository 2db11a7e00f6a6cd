"""Failed logins are throttled per email and per client address, before the password is checked;
signups per client address. Only a failed password check counts."""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import security
from app.factory import create_app
from app.settings import Settings
from tests.support import PASSWORD, error_codes, graphql, signup

WRONG = "Wrong-password-1"


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> FastAPI:
    return create_app(make_settings(login_max_failures=3, login_window_seconds=60))


def attempt(client: TestClient, email: str, password: str) -> int:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    return response.status_code


def test_failures_past_the_limit_get_429_with_retry_after(client: TestClient) -> None:
    signup(client, "a@example.com")
    assert [attempt(client, "a@example.com", WRONG) for _ in range(3)] == [401, 401, 401]
    response = client.post("/api/auth/login", json={"email": "a@example.com", "password": WRONG})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.json()["detail"]


def test_throttled_email_is_refused_even_with_the_right_password(client: TestClient) -> None:
    signup(client, "a@example.com")
    for _ in range(3):
        attempt(client, "a@example.com", WRONG)
    assert attempt(client, "a@example.com", PASSWORD) == 429


def test_unknown_emails_are_throttled_alike(client: TestClient) -> None:
    statuses = [attempt(client, "ghost@example.com", WRONG) for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_successful_logins_use_up_nothing(client: TestClient) -> None:
    signup(client, "a@example.com")
    assert [attempt(client, "a@example.com", PASSWORD) for _ in range(6)] == [200] * 6
    assert [attempt(client, "a@example.com", WRONG) for _ in range(3)] == [401] * 3


def test_throttling_is_per_email_and_case_insensitive(client: TestClient) -> None:
    signup(client, "a@example.com")
    signup(client, "b@example.com")
    for email in ("a@example.com", "A@EXAMPLE.com", "a@Example.com"):
        attempt(client, email, WRONG)
    assert attempt(client, "a@example.com", PASSWORD) == 429
    assert attempt(client, "b@example.com", PASSWORD) == 200


def test_concurrent_attempts_cannot_slip_past_the_limit(client: TestClient) -> None:
    signup(client, "a@example.com")
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: attempt(client, "a@example.com", WRONG), range(10)))
    assert statuses.count(401) == 3
    assert statuses.count(429) == 7


def test_concurrent_right_password_logins_never_lock_the_account(client: TestClient) -> None:
    signup(client, "a@example.com")
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: attempt(client, "a@example.com", PASSWORD), range(20)))
    assert set(statuses) <= {200, 429}  # 429 only while attempts in flight fill the window
    assert attempt(client, "a@example.com", PASSWORD) == 200
    assert [attempt(client, "a@example.com", WRONG) for _ in range(3)] == [401] * 3


def test_an_attempt_refused_with_429_counts_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two failures, then a right-password login held inside bcrypt fills the window (3); a
    login refused meanwhile must not count, so once the held one succeeds there is room again."""
    signup(client, "a@example.com")
    assert [attempt(client, "a@example.com", WRONG) for _ in range(2)] == [401, 401]
    inside, release = threading.Event(), threading.Event()
    real_verify = security.verify_password

    def held_verify(password: str, password_hash: str) -> bool:
        inside.set()
        release.wait(10)
        return real_verify(password, password_hash)

    monkeypatch.setattr(security, "verify_password", held_verify)
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(attempt, client, "a@example.com", PASSWORD)
        assert inside.wait(10)
        refused = attempt(client, "a@example.com", PASSWORD)
        release.set()
        assert held.result() == 200
    monkeypatch.setattr(security, "verify_password", real_verify)
    assert refused == 429
    assert attempt(client, "a@example.com", PASSWORD) == 200


def test_a_login_that_fails_for_want_of_the_database_counts_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.errors import Unavailable
    from app.services import users

    signup(client, "a@example.com")

    def database_down(*_: object, **__: object) -> None:
        raise Unavailable("The database is unavailable; try again shortly")

    monkeypatch.setattr(users, "by_email", database_down)
    assert [attempt(client, "a@example.com", WRONG) for _ in range(5)] == [503] * 5
    monkeypatch.undo()
    assert attempt(client, "a@example.com", PASSWORD) == 200


@pytest.fixture
def per_address(make_settings: Callable[..., Settings]) -> FastAPI:
    return create_app(
        make_settings(
            login_max_failures=100, login_max_failures_per_address=3, signup_max_per_address=2
        )
    )


@pytest.fixture
def from_one(per_address: FastAPI) -> Iterator[TestClient]:
    with TestClient(per_address, client=("203.0.113.1", 40000)) as one:
        yield one


@pytest.fixture
def from_another(per_address: FastAPI) -> Iterator[TestClient]:
    with TestClient(per_address, client=("203.0.113.2", 40000)) as another:
        yield another


def test_failed_logins_are_limited_per_address_across_emails(
    from_one: TestClient, from_another: TestClient
) -> None:
    signup(from_another, "a@example.com")
    failures = [attempt(from_one, f"{name}@example.com", WRONG) for name in "bcd"]
    assert failures == [401, 401, 401]
    refused = from_one.post(
        "/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert attempt(from_another, "a@example.com", PASSWORD) == 200


def test_successful_logins_use_up_nothing_of_the_address(
    from_one: TestClient, from_another: TestClient
) -> None:
    signup(from_another, "a@example.com")
    assert [attempt(from_one, "a@example.com", PASSWORD) for _ in range(5)] == [200] * 5
    assert [attempt(from_one, "x@example.com", WRONG) for _ in range(3)] == [401] * 3


def test_signups_are_limited_per_address(from_one: TestClient, from_another: TestClient) -> None:
    body = {"name": "N", "password": PASSWORD}
    statuses = [
        from_one.post("/api/auth/signup", json={**body, "email": f"{n}@example.com"}).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]
    refused = from_one.post("/api/auth/signup", json={**body, "email": "late@example.com"})
    assert int(refused.headers["Retry-After"]) >= 1
    assert (
        from_another.post(
            "/api/auth/signup", json={**body, "email": "late@example.com"}
        ).status_code
        == 201
    )
    assert (
        from_one.post(
            "/api/auth/login", json={"email": "late@example.com", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_graphql_signups_count_against_the_address_too(from_one: TestClient) -> None:
    mutation = """mutation ($e: String!, $p: String!) {
      signup(input: {email: $e, name: "N", password: $p}) { user { id } } }"""
    codes = [
        error_codes(graphql(from_one, mutation, {"e": f"{n}@example.com", "p": PASSWORD}))
        for n in range(3)
    ]
    assert codes == [[], [], ["RATE_LIMITED"]]
