"""The production topology of docs/deployment.md, run from the deploy/ files: Debian's nginx in
front of two instances of `uvicorn app.main:app --workers 2`, Debian's PgBouncer in transaction
mode between them and PostgreSQL, each instance's event listener on PostgreSQL itself, Redis for
the throttles, and Debian's Prometheus scraping each instance.

Clients talk to nginx alone, except where a test writes on one instance on purpose. The database's
own time zone is set far from UTC, so only PgBouncer's `timezone=UTC` keeps sessions in UTC.
PostgreSQL only (the topology is PgBouncer's); skipped without TEST_DATABASE_URL, Redis or the
Debian programs, which .ci/run installs.
"""

import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from tests.reliability.conftest import redis_reachable
from tests.reliability.live import TIMEOUT, at_once, register, unique_email
from tests.reliability.servers import fresh_database
from tests.reliability.sockets import live_socket
from tests.reliability.topology import (
    Daemon,
    Topology,
    admin_execute,
    missing_programs,
    pooled_dsn,
    prometheus,
    topology,
)
from tests.support import Account

# Redis database 12 is this module's (13 is the other throttle tests'); counts are keyed by
# addresses new to every run, so runs never share one.
REDIS_URL = "redis://127.0.0.1:6379/12"
FAILURES_PER_ADDRESS = 3
# A zone far from UTC (+12:45 or +13:45) for the database's own sessions.
DATABASE_ZONE = "Pacific/Chatham"
WRONG = "Wrong-password-1"
PROMETHEUS_DEADLINE = 30.0


@pytest.fixture(scope="module")
def stack(postgres_server: str, server_logs: Path) -> Iterator[Topology]:
    # CI installs the programs (.ci/run) and sets REQUIRE_DEPLOYMENT_TOOLS: there, fail, never skip.
    give_up = pytest.fail if os.environ.get("REQUIRE_DEPLOYMENT_TOOLS") else pytest.skip
    if missing := missing_programs():
        give_up(f"needs Debian's {', '.join(missing)} (.ci/run installs them)")
    if not redis_reachable(REDIS_URL):
        give_up(f"needs Redis at {REDIS_URL}")
    with fresh_database(postgres_server, "todo_topology") as direct_url:
        database = make_url(direct_url).database
        admin_execute(
            postgres_server, f"ALTER DATABASE \"{database}\" SET timezone = '{DATABASE_ZONE}'"
        )
        with topology(
            direct_url,
            server_logs,
            RATE_LIMIT_STORAGE_URL=REDIS_URL,
            LOGIN_MAX_FAILURES_PER_ADDRESS=str(FAILURES_PER_ADDRESS),
            LOGIN_WINDOW_SECONDS="120",
        ) as running:
            yield running


def some_loopback_address() -> str:
    """An address of 127.0.0.0/8 that is not nginx's 127.0.0.1, new to this run."""
    octets = (1 + secrets.randbelow(254), secrets.randbelow(256), 1 + secrets.randbelow(254))
    return "127." + ".".join(map(str, octets))


def client_from(stack: Topology, address: str) -> httpx.Client:
    """A client of nginx whose connections come from `address`."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=stack.nginx.url, transport=transport, timeout=TIMEOUT)


def failed_login(client: httpx.Client, headers: dict[str, str] | None = None) -> int:
    body = {"email": unique_email("stranger"), "password": WRONG}
    return client.post("/api/auth/login", json=body, headers=headers).status_code


def create(base_url: str, account: Account, title: str) -> dict[str, Any]:
    created = httpx.post(
        f"{base_url}/api/tasks", json={"title": title}, headers=account.headers, timeout=TIMEOUT
    )
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def is_nginx_page(response: httpx.Response) -> bool:
    """nginx's own error page, not an answer of the service (which always answers JSON)."""
    return response.headers["content-type"].startswith("text/html") and "nginx" in response.text


def test_rest_works_through_nginx(stack: Topology) -> None:
    account = register(stack.nginx.url)
    created = create(stack.nginx.url, account, "through nginx")
    listed = httpx.get(f"{stack.nginx.url}/api/tasks", headers=account.headers)
    assert listed.status_code == 200
    assert [task["id"] for task in listed.json()] == [created["id"]]


def test_graphql_works_through_nginx(stack: Topology) -> None:
    account = register(stack.nginx.url)
    mutation = 'mutation { createTask(input: {title: "by GraphQL"}) { id } }'
    created = httpx.post(
        f"{stack.nginx.url}/graphql", json={"query": mutation}, headers=account.headers
    )
    query = "{ me { email } tasks { nodes { id title } } }"
    answer = httpx.post(
        f"{stack.nginx.url}/graphql", json={"query": query}, headers=account.headers
    )
    task_id = created.json()["data"]["createTask"]["id"]
    assert answer.json() == {
        "data": {
            "me": {"email": account.email},
            "tasks": {"nodes": [{"id": task_id, "title": "by GraphQL"}]},
        }
    }


def access_log_lines(stack: Topology, marker: str, count: int) -> list[dict[str, str]]:
    """The `key=value` fields of the `count` lines of nginx's access log whose request holds
    `marker`, once all are written (nginx logs a request just after answering it)."""
    deadline = time.monotonic() + 5
    while True:
        lines = (stack.nginx.directory / "nginx-access.log").read_text().splitlines()
        found = [line for line in lines if marker in line]
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) == count, found
    return [dict(field.split("=", 1) for field in line.split() if "=" in field) for line in found]


def test_nginx_spreads_requests_over_both_instances(stack: Topology) -> None:
    marker = secrets.token_hex(8)
    with httpx.Client(base_url=stack.nginx.url, timeout=TIMEOUT) as client:
        statuses = [client.get(f"/api/health?spread={marker}").status_code for _ in range(4)]
    assert statuses == [200] * 4
    upstreams = {fields["upstream"] for fields in access_log_lines(stack, marker, 4)}
    assert upstreams == {f"127.0.0.1:{server.port}" for server in stack.instances}


def test_the_instance_answers_with_the_request_id_nginx_logs(stack: Topology) -> None:
    marker = secrets.token_hex(8)
    with client_from(stack, some_loopback_address()) as client:  # a client that is not nginx
        answer = client.get(f"/api/health?id={marker}")
    (logged,) = access_log_lines(stack, marker, 1)
    assert answer.headers["x-request-id"] == logged["request_id"]


def test_a_subscription_through_nginx_gets_writes_made_on_either_instance(
    stack: Topology,
) -> None:
    """nginx puts the socket on one instance; a write on each instance directly, so one of them
    is surely the other instance's, announced through PostgreSQL to the socket's listener."""
    account = register(stack.nginx.url)
    first, second = stack.instances
    with live_socket(stack.nginx.url, account.access_token) as socket:
        socket.wait_until_live(lambda: int(create(first.url, account, "primer")["id"]))
        on_first = create(first.url, account, "on the first instance")["id"]
        on_second = create(second.url, account, "on the second instance")["id"]
        events = [socket.next_event(), socket.next_event()]
    assert [(event["kind"], event["taskId"]) for event in events] == [
        ("CREATED", on_first),
        ("CREATED", on_second),
    ]


def test_a_task_made_through_pgbouncer_is_created_now_in_utc(stack: Topology) -> None:
    direct = psycopg2.connect(stack.direct_libpq_url, connect_timeout=5)
    try:
        with direct.cursor() as cursor:
            cursor.execute("SHOW timezone")
            assert cursor.fetchone() == (DATABASE_ZONE,)  # sessions are not in UTC by themselves
    finally:
        direct.close()
    account = register(stack.nginx.url)
    created_at = datetime.fromisoformat(create(stack.nginx.url, account, "when")["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created_at) < timedelta(seconds=30)


def test_pgbouncer_gives_its_clients_utc_sessions_whatever_they_ask(stack: Topology) -> None:
    """The service's startup parameter `options=-c timezone=UTC` is ignored (PgBouncer would
    refuse the connection for it); the sessions are UTC all the same."""
    dsn = pooled_dsn(stack.pgbouncer.port, stack.credentials)
    pooled = psycopg2.connect(dsn, options="-c timezone=Asia/Tokyo", connect_timeout=5)
    try:
        with pooled.cursor() as cursor:
            cursor.execute("SHOW timezone")
            assert cursor.fetchone() == ("UTC",)
    finally:
        pooled.close()


def test_the_per_address_login_limit_counts_each_client_not_nginx(stack: Topology) -> None:
    with client_from(stack, some_loopback_address()) as one:
        statuses = [failed_login(one) for _ in range(FAILURES_PER_ADDRESS + 1)]
    assert statuses == [401] * FAILURES_PER_ADDRESS + [429]
    with client_from(stack, some_loopback_address()) as other:
        assert failed_login(other) == 401  # were every client nginx, it would be throttled too


def test_a_client_cannot_name_another_address_to_escape_the_limit(stack: Topology) -> None:
    with client_from(stack, some_loopback_address()) as client:
        for _ in range(FAILURES_PER_ADDRESS):
            assert failed_login(client) == 401
        spoofed = {"X-Forwarded-For": some_loopback_address()}
        assert failed_login(client, headers=spoofed) == 429


def test_a_header_past_nginx_buffers_is_refused_by_nginx(stack: Topology) -> None:
    huge = httpx.get(f"{stack.nginx.url}/api/health", headers={"X-Padding": "a" * 20_000})
    assert huge.status_code == 400
    assert "Request Header Or Cookie Too Large" in huge.text  # nginx's page, not the service's


def test_a_large_header_within_nginx_buffers_reaches_the_service(stack: Topology) -> None:
    large = httpx.get(f"{stack.nginx.url}/api/health", headers={"X-Padding": "a" * 8_000})
    assert large.status_code == 200


def test_a_body_past_the_services_limit_gets_the_services_json_413(stack: Topology) -> None:
    body = b'{"title": "' + b"a" * 1_500_000 + b'"}'
    headers = {"Content-Type": "application/json"}
    too_large = httpx.post(f"{stack.nginx.url}/api/tasks", content=body, headers=headers)
    assert too_large.status_code == 413
    assert too_large.headers["content-type"].startswith("application/json")


def test_nginx_does_not_serve_the_metrics(stack: Topology) -> None:
    token = {"Authorization": f"Bearer {stack.metrics_token}"}
    public = httpx.get(f"{stack.nginx.url}/metrics", headers=token)
    assert public.status_code == 404
    assert is_nginx_page(public)


def test_each_instance_serves_its_metrics_to_the_token_holder(stack: Topology) -> None:
    token = {"Authorization": f"Bearer {stack.metrics_token}"}
    for server in stack.instances:
        scraped = httpx.get(f"{server.url}/metrics", headers=token)
        assert scraped.status_code == 200
        assert "todo_http_requests_total" in scraped.text
        refused = httpx.get(f"{server.url}/metrics")
        assert refused.status_code != 200
        assert "todo_http_requests_total" not in refused.text


@pytest.fixture(scope="module")
def scraper(stack: Topology) -> Iterator[Daemon]:
    with prometheus(stack.instances, stack.metrics_token, stack.root) as daemon:
        yield daemon


def _query(scraper: Daemon, promql: str) -> dict[str, float]:
    """The instant vector of `promql`, by the `instance` label ("" once summed away)."""
    answer = httpx.get(f"{scraper.url}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return {
        sample["metric"].get("instance", ""): float(sample["value"][1])
        for sample in answer["data"]["result"]
    }


def _scraped_since(scraper: Daemon, moment: datetime) -> None:
    """Wait until Prometheus has scraped both instances, successfully, since `moment`."""
    deadline = time.monotonic() + PROMETHEUS_DEADLINE
    while True:
        targets = httpx.get(f"{scraper.url}/api/v1/targets", timeout=10).json()
        active = targets["data"]["activeTargets"]
        if len(active) == 2 and all(
            target["health"] == "up" and datetime.fromisoformat(target["lastScrape"]) > moment
            for target in active
        ):
            return
        assert time.monotonic() < deadline, f"no scrape of both instances since {moment}: {active}"
        time.sleep(0.2)


def _settled(scraper: Daemon, promql: str) -> dict[str, float]:
    """`promql` once every request answered so far has been scraped."""
    _scraped_since(scraper, datetime.now(UTC))
    return _query(scraper, promql)


def _reaches(scraper: Daemon, promql: str, expected: float) -> dict[str, float]:
    """Poll `promql` until its sum is `expected`, within the deadline; its last answer."""
    deadline = time.monotonic() + PROMETHEUS_DEADLINE
    while True:
        answer = _query(scraper, promql)
        if sum(answer.values()) == expected or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_prometheus_counts_every_rest_request_across_both_instances(
    stack: Topology, scraper: Daemon
) -> None:
    """Sent at once, each on a connection of its own, the requests spread over both instances
    and their workers; any one worker answers a scrape for its instance's workers."""
    account = register(stack.nginx.url)
    by_instance = 'sum by (instance) (todo_http_requests_total{route="/api/tasks"})'
    before = _settled(scraper, by_instance)

    async def create_or_list(client: httpx.AsyncClient, index: int) -> int:
        if index % 2:
            body = {"title": f"counted {index}"}
            return (await client.post("/api/tasks", json=body, headers=account.headers)).status_code
        return (await client.get("/api/tasks", headers=account.headers)).status_code

    assert sorted(at_once(stack.nginx.url, 12, create_or_list)) == [200] * 6 + [201] * 6
    after = _reaches(scraper, by_instance, sum(before.values()) + 12)
    assert sum(after.values()) - sum(before.values()) == 12
    assert len(after) == 2
    assert all(after[instance] > before.get(instance, 0) for instance in after), (before, after)


def test_prometheus_counts_every_graphql_operation_across_both_instances(
    stack: Topology, scraper: Daemon
) -> None:
    account = register(stack.nginx.url)
    operations = "sum(todo_graphql_operation_duration_seconds_count)"
    before = sum(_settled(scraper, operations).values())

    async def ask(client: httpx.AsyncClient, _index: int) -> int:
        query = {"query": "{ me { email } }"}
        return (await client.post("/graphql", json=query, headers=account.headers)).status_code

    assert at_once(stack.nginx.url, 8, ask) == [200] * 8
    after = sum(_reaches(scraper, operations, before + 8).values())
    assert after - before == 8
