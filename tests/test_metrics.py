"""`/metrics`: who may read it, and what it counts (the multiprocess sums:
tests/reliability/test_metrics_workers.py)."""

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.broker import Broker
from app.database import Database
from app.engine import create_db_engine
from app.events import TaskEventKind
from app.factory import create_app
from app.metrics import ANONYMOUS, OTHER, Metrics, OperationNames
from app.security import PasswordHasher
from app.settings import Settings
from app.statements import Runner
from models.utc import utcnow
from tests.support import PASSWORD, Account, create_task, graphql

METRICS_TOKEN = "scrape-" + "0123456789abcdef" * 2


def metrics_of(app: FastAPI) -> Metrics:
    metrics: Metrics = app.state.runtime.metrics
    return metrics


def sample(app: FastAPI, name: str, **labels: str) -> float:
    value = metrics_of(app).registry.get_sample_value(name, labels)
    return value or 0.0


def requests_counted(app: FastAPI, method: str, route: str, status: str) -> float:
    return sample(app, "todo_http_requests_total", method=method, route=route, status=status)


# Who may read it


def test_metrics_are_not_there_outside_development_without_a_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_ask_for_the_token_once_it_is_set(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(metrics_token=METRICS_TOKEN))) as client:
        refused = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        missing = client.get("/metrics")
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert (refused.status_code, missing.status_code) == (401, 401)
    assert refused.headers["www-authenticate"] == "Bearer"
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "todo_http_requests_total" in scraped.text


def test_metrics_are_open_in_development(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(environment="development"))) as client:
        assert client.get("/metrics").status_code == 200


def test_metrics_are_not_in_the_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


# Requests


def test_requests_are_counted_by_route_template_not_path(
    app: FastAPI, client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "Counted")
    client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert requests_counted(app, "GET", "/api/tasks/{task_id}", "2xx") == 1
    assert requests_counted(app, "POST", "/api/tasks", "2xx") == 1
    exposition = metrics_of(app).exposition()[0].decode()
    assert f"/api/tasks/{task['id']}" not in exposition


def test_requests_are_counted_by_status_class(client: TestClient, app: FastAPI) -> None:
    client.get("/api/tasks")
    client.get("/api/tasks")
    assert requests_counted(app, "GET", "/api/tasks", "4xx") == 2
    assert requests_counted(app, "GET", "/api/tasks", "2xx") == 0


def test_a_path_no_route_takes_is_counted_as_unmatched(client: TestClient, app: FastAPI) -> None:
    client.get(f"/nowhere/{uuid.uuid4()}")
    assert requests_counted(app, "GET", "unmatched", "4xx") == 1


def test_methods_nobody_defined_are_counted_as_other(client: TestClient, app: FastAPI) -> None:
    for number in range(3):
        client.request(f"BREW{number}", "/api/tasks")
    assert requests_counted(app, "other", "/api/tasks", "4xx") == 3
    exposition = metrics_of(app).exposition()[0].decode()
    assert "BREW" not in exposition


def test_request_latency_is_a_histogram_by_route(client: TestClient, app: FastAPI) -> None:
    client.get("/api/health")
    labels = {"method": "GET", "route": "/api/health"}
    assert sample(app, "todo_http_request_duration_seconds_count", **labels) == 1
    assert sample(app, "todo_http_request_duration_seconds_sum", **labels) > 0


def test_requests_are_not_counted_when_observing_is_off(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(observe_requests=False))
    with TestClient(app) as client:
        response = client.get("/api/health")
    assert "x-request-id" not in response.headers
    assert requests_counted(app, "GET", "/api/health", "2xx") == 0


# GraphQL operations


def graphql_counted(app: FastAPI, operation: str, code: str) -> float:
    return sample(app, "todo_graphql_operations_total", operation=operation, code=code)


def test_graphql_over_get_and_post_is_counted_under_its_route(
    app: FastAPI, client: TestClient, alice: Account
) -> None:
    client.get("/graphql", params={"query": "{ me { name } }"}, headers=alice.headers)
    graphql(client, "{ me { name } }", account=alice)
    assert requests_counted(app, "GET", "/graphql", "2xx") == 1
    assert requests_counted(app, "POST", "/graphql", "2xx") == 1


def test_graphql_operations_are_counted_by_name_and_outcome(
    app: FastAPI, client: TestClient, alice: Account
) -> None:
    graphql(client, "query Mine { tasks { totalCount } }", account=alice)
    graphql(client, "query Mine { tasks { totalCount } }")
    assert graphql_counted(app, "Mine", "ok") == 1
    assert graphql_counted(app, "Mine", "UNAUTHENTICATED") == 1
    assert sample(app, "todo_graphql_operation_duration_seconds_count", operation="Mine") == 2


def test_mutations_are_counted_by_name(app: FastAPI, client: TestClient, alice: Account) -> None:
    graphql(client, 'mutation Add { createTask(input: {title: "x"}) { id } }', account=alice)
    assert graphql_counted(app, "Add", "ok") == 1


def test_an_operation_without_a_name_is_counted_as_anonymous(
    app: FastAPI, client: TestClient, alice: Account
) -> None:
    graphql(client, "{ tasks { totalCount } }", account=alice)
    assert graphql_counted(app, ANONYMOUS, "ok") == 1


def test_each_operation_of_a_batch_is_counted(
    app: FastAPI, client: TestClient, alice: Account
) -> None:
    batch = [{"query": "query One { tasks { totalCount } }"}, {"query": "query Two { me { id } }"}]
    response = client.post("/graphql", json=batch, headers=alice.headers)
    assert response.status_code == 200
    assert graphql_counted(app, "One", "ok") == graphql_counted(app, "Two", "ok") == 1


@pytest.mark.parametrize("name", [{"an": "object"}, ["a", "list"], 5, True])
def test_an_operation_name_that_is_no_string_is_a_400_counted_as_anonymous(
    app: FastAPI, client: TestClient, name: object
) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ __typename }", "operationName": name},
        headers={"Accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    counted = {
        sample.labels["operation"]: sample.labels["code"]
        for metric in metrics_of(app).registry.collect()
        if metric.name == "todo_graphql_operations"
        for sample in metric.samples
        if sample.name == "todo_graphql_operations_total"
    }
    assert counted.keys() <= {ANONYMOUS}
    assert "ok" not in counted.values()


def test_operation_names_past_the_limit_fold_into_other() -> None:
    names = OperationNames(limit=2)
    assert [names.label(each) for each in ("A", "B", "C", "A", None)] == [
        "A",
        "B",
        OTHER,
        "A",
        ANONYMOUS,
    ]


def test_an_operation_name_that_is_no_graphql_name_is_other() -> None:
    names = OperationNames(limit=10)
    assert names.label("x\ny") == OTHER
    assert names.label("A" * 65) == OTHER


def test_many_client_chosen_names_cannot_grow_the_labels(
    make_settings: Callable[..., Settings], alice: Account
) -> None:
    app = create_app(make_settings())
    limit = 100  # Metrics' default
    with TestClient(app) as client:
        for number in range(limit + 20):
            graphql(client, f"query Q{number} {{ __typename }}")
    operations = {
        each.labels["operation"]
        for metric in metrics_of(app).registry.collect()
        if metric.name == "todo_graphql_operations"
        for each in metric.samples
    }
    assert len(operations) == limit + 1
    assert OTHER in operations


# Logins


def test_a_wrong_password_counts_as_a_refusal_for_credentials(
    app: FastAPI, client: TestClient, alice: Account
) -> None:
    client.post("/api/auth/login", json={"email": alice.email, "password": "Wrong-pass-1"})
    client.post("/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    assert sample(app, "todo_login_refusals_total", reason="credentials") == 2


def test_a_throttled_login_counts_as_throttled(
    make_settings: Callable[..., Settings], alice: Account
) -> None:
    app = create_app(make_settings(login_max_failures=1))
    wrong = {"email": "victim@example.com", "password": "Wrong-pass-1"}
    with TestClient(app) as client:
        statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(2)]
    assert statuses == [401, 429]
    assert sample(app, "todo_login_refusals_total", reason="throttled") == 1


# Units of work, hashes, sockets, events


def test_units_of_work_are_counted_while_running_and_waiting(settings: Settings) -> None:
    metrics = Metrics()
    db = Database(
        create_db_engine(settings, autocommit=True), timeout=10, threads=1, metrics=metrics
    )
    release = threading.Event()

    def blocked(_runner: Runner) -> None:
        release.wait(10)

    def value(name: str) -> float:
        return metrics.registry.get_sample_value(name) or 0.0

    async def scenario() -> list[float]:
        first = asyncio.create_task(db.run(blocked))
        second = asyncio.create_task(db.run(blocked))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            value("todo_db_units_waiting") < 1 or value("todo_db_pool_connections_in_use") < 1
        ):  # the first unit connects in its thread; the second waits for that thread
            await asyncio.sleep(0.01)
        seen = [
            value("todo_db_units_running"),
            value("todo_db_units_waiting"),
            value("todo_db_pool_connections_in_use"),
        ]
        release.set()
        await asyncio.gather(first, second)
        return seen

    seen = asyncio.run(scenario())
    assert seen == [1, 1, 1]
    assert value("todo_db_units_running") == value("todo_db_units_waiting") == 0
    assert value("todo_db_pool_connections_in_use") == 0
    db.engine.dispose()


def test_a_unit_given_up_while_waiting_stops_counting_as_waiting(settings: Settings) -> None:
    metrics = Metrics()
    engine = create_db_engine(settings, autocommit=True)
    db = Database(engine, timeout=10, threads=1, metrics=metrics)
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.create_task(db.run(lambda _runner: release.wait(10)))
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):  # its caller gives up (a client gone) while it waits
            await asyncio.wait_for(db.run(lambda _runner: None), 0.1)
        release.set()
        await first

    asyncio.run(scenario())
    assert metrics.registry.get_sample_value("todo_db_units_waiting") == 0
    engine.dispose()


def test_bcrypt_hashes_are_counted_while_running_and_waiting() -> None:
    metrics = Metrics()
    hasher = PasswordHasher(rounds=13, max_concurrent=1, metrics=metrics)

    def value(name: str) -> float:
        return metrics.registry.get_sample_value(name) or 0.0

    async def scenario() -> list[float]:
        hashes = [asyncio.create_task(hasher.hash(PASSWORD)) for _ in range(2)]
        deadline = time.monotonic() + 5
        while value("todo_bcrypt_hashes_waiting") < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        seen = [value("todo_bcrypt_hashes_running"), value("todo_bcrypt_hashes_waiting")]
        await asyncio.gather(*hashes)
        return seen

    assert asyncio.run(scenario()) == [1, 1]
    assert value("todo_bcrypt_hashes_running") == value("todo_bcrypt_hashes_waiting") == 0


def test_sockets_are_counted_once_each() -> None:
    metrics = Metrics()
    broker = Broker(max_sockets_per_user=5, metrics=metrics)

    async def close(_code: int, _reason: str) -> None:
        return None

    async def scenario() -> list[Any]:
        socket = broker.connect(uuid.uuid4(), uuid.uuid4(), _in_an_hour(), close)
        opened = metrics.registry.get_sample_value("todo_live_sockets")
        broker.disconnect(socket)
        broker.disconnect(socket)  # a socket closed twice (by the server, then the client)
        return [opened, metrics.registry.get_sample_value("todo_live_sockets")]

    assert asyncio.run(scenario()) == [1, 0]


def _in_an_hour() -> datetime:
    return utcnow() + timedelta(hours=1)


def test_a_write_counts_the_event_it_publishes(
    app: FastAPI, client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "Announced")
    client.patch(f"/api/tasks/{task['id']}/toggle", headers=alice.headers)
    assert sample(app, "todo_task_events_published_total") == 2


def test_an_event_handed_to_a_subscription_is_counted_as_delivered() -> None:
    metrics = Metrics()
    broker = Broker(max_sockets_per_user=5, metrics=metrics)
    user_id = uuid.uuid4()
    payload = orjson.dumps([TaskEventKind.UPDATED.value, str(user_id), 1, 2, utcnow().isoformat()])

    async def scenario() -> list[Any]:
        broker.start(asyncio.get_running_loop())
        async with broker.subscribe(user_id) as subscription:
            running = metrics.registry.get_sample_value("todo_live_subscriptions")
            broker.deliver([payload.decode(), payload.decode()])
            await asyncio.wait_for(subscription.__anext__(), 5)
        return [running, metrics.registry.get_sample_value("todo_live_subscriptions")]

    assert asyncio.run(scenario()) == [1, 0]
    assert metrics.registry.get_sample_value("todo_task_events_delivered_total") == 2
