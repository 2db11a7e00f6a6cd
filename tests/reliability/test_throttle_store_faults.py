"""When the throttle's store (Redis) is unreachable (login and signup fail closed with 503, the
rest works), and what an unexpected error looks like.

The store is pointed at a port nobody listens on; the app runs in process on each database.
"""

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.factory import create_app
from app.security import hash_password
from app.services.tokens import start_session
from app.services.users import by_email
from app.settings import Settings
from app.statements import Runner
from models import User
from tests.reliability.checks import leaks, missing_security_headers
from tests.reliability.servers import SERVER_PORTS, free_port
from tests.support import PASSWORD, database

CREDENTIALS = {"email": "alice@example.com", "password": PASSWORD}


@pytest.fixture
def store_down_app(make_settings: Callable[..., Settings]) -> FastAPI:
    unreachable = f"redis://127.0.0.1:{free_port(SERVER_PORTS)}/0"
    return create_app(make_settings(rate_limit_storage_url=unreachable))


@pytest.fixture
def store_down(store_down_app: FastAPI, settings: Settings) -> Iterator[TestClient]:
    """Alice's account is written directly: signing up needs the store too (its per-address
    limit), so through the API it would answer 503."""
    with database(settings) as session:
        password_hash = hash_password(PASSWORD, settings.bcrypt_rounds)
        session.add(User(email=CREDENTIALS["email"], name="Alice", password_hash=password_hash))
        session.commit()
    with TestClient(store_down_app, raise_server_exceptions=False) as client:
        yield client


def _access_token(runner: Runner, settings: Settings) -> str:
    """An access token (of a new session) issued directly: logging in is what the missing store
    breaks."""
    user = by_email(runner, email=CREDENTIALS["email"])
    assert user is not None
    issued = start_session(runner, settings=settings, user=user)
    assert issued is not None
    return issued.access_token


def test_everything_but_login_works_while_the_throttle_store_is_down(
    store_down: TestClient, runner: Runner, settings: Settings
) -> None:
    headers = {"Authorization": f"Bearer {_access_token(runner, settings)}"}
    assert store_down.get("/api/health").status_code == 200
    created = store_down.post("/api/tasks", json={"title": "still here"}, headers=headers)
    assert created.status_code == 201
    assert store_down.get("/api/tasks", headers=headers).status_code == 200


def test_rest_login_answers_503_while_the_throttle_store_is_down(store_down: TestClient) -> None:
    response = store_down.post("/api/auth/login", json=CREDENTIALS)
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


def test_rest_signup_answers_503_while_the_throttle_store_is_down(store_down: TestClient) -> None:
    body = {"email": "new@example.com", "name": "New", "password": PASSWORD}
    response = store_down.post("/api/auth/signup", json=body)
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


def test_rest_login_leaks_nothing_while_the_throttle_store_is_down(
    store_down: TestClient,
) -> None:
    response = store_down.post("/api/auth/login", json=CREDENTIALS)
    assert not leaks(response.status_code, response.text)


def test_graphql_login_is_service_unavailable_while_the_throttle_store_is_down(
    store_down: TestClient,
) -> None:
    mutation = """mutation ($input: LoginInput!) {
        login(input: $input) { tokens { accessToken } } }"""
    response = store_down.post(
        "/graphql", json={"query": mutation, "variables": {"input": CREDENTIALS}}
    )
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


@pytest.fixture
def failing_route_client(settings: Settings) -> Iterator[TestClient]:
    """The real app plus one route that fails unexpectedly, as any bug would."""
    app = create_app(settings)

    def explode() -> None:
        raise RuntimeError("boom: SELECT password_hash FROM users")

    app.add_api_route("/api/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_an_unexpected_error_is_a_bare_500_that_reveals_nothing(
    failing_route_client: TestClient,
) -> None:
    response = failing_route_client.get("/api/explode")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {"detail": "Internal server error", "request_id": request_id}
    assert not leaks(response.status_code, response.text)


def test_an_unexpected_error_still_carries_the_api_headers(
    failing_route_client: TestClient,
) -> None:
    response = failing_route_client.get("/api/explode")
    assert missing_security_headers("/api/explode", dict(response.headers)) == []
