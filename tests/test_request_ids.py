"""`X-Request-ID` on every answer, kept from a trusted proxy when well-formed, in every log line
of the request and in the body of a 5xx answer; the access line (no secrets in it: see
tests/reliability/test_logs.py)."""

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.factory import create_app
from app.logs import HANDLER_NAME, configure_logging
from app.settings import Settings
from tests.support import Account, create_task, graphql

GENERATED = re.compile(r"[0-9a-f]{32}")
PROXY = "testclient"  # the peer address of every TestClient request


@pytest.fixture
def behind_a_proxy(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """A service whose trusted proxy is the test client."""
    with TestClient(create_app(make_settings(forwarded_allow_ips=PROXY))) as client:
        yield client


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the process logs from now on (as `app.main` configures logging)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("json")
    capsys.readouterr()

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield lines
    for handler in root.handlers:
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_answer_carries_a_generated_request_id(client: TestClient) -> None:
    ids = [client.get("/api/health").headers["x-request-id"] for _ in range(2)]
    assert all(GENERATED.fullmatch(each) for each in ids)
    assert ids[0] != ids[1]


def test_errors_carry_a_request_id_too(client: TestClient) -> None:
    response = client.get("/api/tasks")
    assert response.status_code == 401
    assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_graphql_answers_carry_a_request_id(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ __typename }"})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_a_trusted_proxys_request_id_is_kept(behind_a_proxy: TestClient) -> None:
    sent = "nginx-7f3a9c1e.42:b"
    response = behind_a_proxy.get("/api/health", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent


def test_anyone_elses_request_id_is_replaced(client: TestClient) -> None:
    response = client.get("/api/health", headers={"X-Request-ID": "chosen-by-the-client"})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "sent",
    ["forged\nlog line", "a" * 129, "spaces are out", 'quote"d', "", "ünïcode"],
    ids=["newline", "too-long", "space", "quote", "empty", "non-ascii"],
)
def test_a_malformed_request_id_is_replaced_even_from_a_proxy(
    behind_a_proxy: TestClient, sent: str
) -> None:
    response = behind_a_proxy.get(
        "/api/health",
        headers=[("X-Request-ID", sent.encode("utf-8"))],
    )
    assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_a_trusted_proxy_names_the_client(
    make_settings: Callable[..., Settings],
) -> None:
    """The per-address limits count the client the proxy names, not the proxy."""
    settings = make_settings(forwarded_allow_ips=PROXY, signup_max_per_address=1)
    with TestClient(create_app(settings)) as client:

        def signup(email: str, address: str) -> int:
            body = {"email": email, "name": "N", "password": "Correct-Horse-9"}
            headers = {"X-Forwarded-For": address}
            return client.post("/api/auth/signup", json=body, headers=headers).status_code

        statuses = [
            signup("a@example.com", "203.0.113.1"),
            signup("b@example.com", "203.0.113.2"),
            signup("c@example.com", "203.0.113.1"),
        ]
    assert statuses == [201, 201, 429]


def test_the_access_line_names_route_status_user_and_request(
    app: FastAPI, client: TestClient, alice: Account, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    task = create_task(client, alice, "Logged")
    response = client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    access = [line for line in log_lines() if line["logger"] == "todo.access"][-1]
    me = client.get("/api/auth/me", headers=alice.headers).json()
    assert access["request_id"] == response.headers["x-request-id"]
    assert access["route"] == "/api/tasks/{task_id}"
    assert (access["method"], access["status"], access["user_id"]) == ("GET", 200, me["id"])
    assert isinstance(access["duration_ms"], float)


def test_the_access_line_of_a_graphql_request_names_its_user(
    client: TestClient, alice: Account, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    body = graphql(client, "{ me { id } }", account=alice)
    access = [line for line in log_lines() if line["logger"] == "todo.access"][-1]
    assert access["route"] == "/graphql"
    assert access["user_id"] == body["data"]["me"]["id"]


def test_a_line_logged_in_a_worker_thread_names_its_request(
    make_settings: Callable[..., Settings], log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """A database that cannot be reached is logged by `Database`, in the request's context."""
    settings = make_settings(database_url="postgresql://nobody@127.0.0.1:9/none", db_timeout=2)
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/health")
    warnings = [line for line in log_lines() if line["logger"] == "app.database"]
    assert response.status_code == 503
    # (the trash purge, at start-up, logs the same warning outside any request: `-`)
    assert response.headers["x-request-id"] in {line["request_id"] for line in warnings}


def test_a_500_names_its_request_id_in_body_and_header(
    app: FastAPI, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    @app.get("/api/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/broken")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {"detail": "Internal server error", "request_id": request_id}
    logged = [line for line in log_lines() if line["request_id"] == request_id]
    assert {line["logger"] for line in logged} >= {"app.api.error_handlers", "todo.access"}
    assert any("RuntimeError: a bug" in line.get("exception", "") for line in logged)


def test_text_logs_name_the_request_too(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("text")
    try:
        capsys.readouterr()
        response = client.get("/api/health")
        text = capsys.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert f"[{response.headers['x-request-id']}] GET /api/health 200" in text


def test_logs_are_json_outside_development_and_text_in_it(
    make_settings: Callable[..., Settings],
) -> None:
    assert make_settings(environment="production").logs_as == "json"
    assert make_settings(environment="development").logs_as == "text"
    assert make_settings(environment="development", log_format="json").logs_as == "json"
