"""Failed logins are throttled per email, before the password is checked."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support import PASSWORD, signup

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
