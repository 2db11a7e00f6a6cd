"""`/api/health`, and what every route answers when the database is down."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.factory import create_app
from app.settings import Settings
from tests.conftest import TEST_SECRET
from tests.support import Account

UNREACHABLE = {
    "postgresql": "postgresql://postgres@127.0.0.1:9/nowhere",  # port 9: nothing listens
    "sqlite": "sqlite:////nonexistent-directory/todo.db",
}


def test_health_is_200_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"] == "ok"
    assert body["timestamp"].endswith(("Z", "+00:00"))


@pytest.fixture(params=sorted(UNREACHABLE))
def down_client(request: pytest.FixtureRequest, tmp_path: Path) -> TestClient:
    settings = Settings(
        database_url=UNREACHABLE[request.param],
        jwt_secret=TEST_SECRET,
        bcrypt_rounds=4,
        db_connect_timeout=2,
        _env_file=None,
    )
    return TestClient(create_app(settings))


def test_health_is_503_unhealthy_when_the_database_is_unreachable(down_client: TestClient) -> None:
    response = down_client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "unreachable"


def test_routes_answer_503_with_a_message_when_the_database_is_unreachable(
    down_client: TestClient, alice: Account
) -> None:
    response = down_client.get("/api/tasks", headers=alice.headers)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The database is unavailable; try again shortly",
        "request_id": response.headers["x-request-id"],
    }


def test_login_answers_503_when_the_database_is_unreachable(down_client: TestClient) -> None:
    response = down_client.post(
        "/api/auth/login", json={"email": "a@example.com", "password": "Whatever-1"}
    )
    assert response.status_code == 503


def test_api_answers_carry_nosniff_and_no_store(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_cors_allows_the_configured_origin(client: TestClient) -> None:
    response = client.options(
        "/api/tasks",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_cors_refuses_other_origins(client: TestClient) -> None:
    response = client.get("/api/health", headers={"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in response.headers
