"""PostgreSQL going away under load, and coming back, behind a real server.

A private PostgreSQL cluster (initdb + pg_ctl in a temporary folder, on a port in 25400-25499) is
stopped and started while a uvicorn process serves writes and reads (and live events) from it.
The shared server on 5432 is never touched. Skipped only where the PostgreSQL binaries are missing.
"""

import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event, Lock, Thread

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.database import DATABASE_UNAVAILABLE
from tests.reliability.checks import leaks
from tests.reliability.live import register
from tests.reliability.servers import (
    PrivatePostgres,
    Server,
    fresh_database,
    postgres_bin_dir,
    private_postgres,
    server_env,
    uvicorn_server,
)
from tests.reliability.sockets import init_close_code, live_socket
from tests.support import Account

BOUND = 10.0  # seconds: the longest any answer may take, outage or not
RECOVERY = 10.0  # seconds after PostgreSQL is back by which requests must succeed again
WRITERS = 6  # concurrent clients; below the pool size, so only the outage can cause a 503


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    with private_postgres(bin_dir) as started:
        yield started


@pytest.fixture
def database(cluster: PrivatePostgres) -> Iterator[str]:
    if not cluster.running():
        cluster.start()
    with fresh_database(cluster.url) as url:
        yield url


@pytest.fixture
def server(database: str, server_logs: Path) -> Iterator[Server]:
    with uvicorn_server(server_env(database), server_logs) as started:
        yield started


@dataclass
class Outcome:
    """One request of the load: when it ran, what it was, what came back."""

    started: float
    ended: float
    operation: str
    status: int | None
    body: str
    error: str | None = None
    title: str | None = None


@dataclass
class Load:
    """Writers and readers hammering the server from threads until stopped."""

    server: Server
    account: Account
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: Event = field(default_factory=Event)
    _lock: Lock = field(default_factory=Lock)
    _threads: list[Thread] = field(default_factory=list)

    def start(self) -> None:
        for worker in range(WRITERS):
            thread = Thread(target=self._run, args=(worker,), name=f"load-{worker}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=BOUND + 5)
        assert not any(thread.is_alive() for thread in self._threads), "a load thread hangs"

    def _run(self, worker: int) -> None:
        with httpx.Client(base_url=self.server.url, timeout=BOUND + 5) as client:
            for index in range(100_000):  # bounded; stopped long before
                if self._stop.is_set():
                    return
                title = f"w{worker}-{index}"
                if index % 3 == 2:
                    self._send(client, "health", "GET", "/api/health")
                elif index % 3 == 1:
                    self._send(client, "list", "GET", "/api/tasks", params={"limit": 5})
                else:
                    self._send(client, "create", "POST", "/api/tasks", title=title)
                time.sleep(0.01)

    def _send(
        self,
        client: httpx.Client,
        operation: str,
        method: str,
        path: str,
        *,
        title: str | None = None,
        params: dict[str, int] | None = None,
    ) -> None:
        started = time.monotonic()
        body = {"title": title} if title is not None else None
        try:
            response = client.request(
                method, path, json=body, params=params, headers=self.account.headers
            )
            outcome = Outcome(
                started, time.monotonic(), operation, response.status_code, response.text
            )
        except httpx.HTTPError as error:
            outcome = Outcome(started, time.monotonic(), operation, None, "", repr(error))
        outcome.title = title
        with self._lock:
            self.outcomes.append(outcome)

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.started >= start and o.ended <= end]


def _stored_titles(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT title, id FROM tasks"))
            return {title: task_id for title, task_id in rows}
    finally:
        engine.dispose()


def _check_no_5xx_but_503_and_no_hang(load: Load) -> None:
    errors = [o for o in load.outcomes if o.error is not None]
    assert not errors, f"{len(errors)} requests got no answer, e.g. {errors[0]}"
    statuses = Counter(o.status for o in load.outcomes)
    assert set(statuses) <= {200, 201, 503}, statuses
    slowest = max(o.ended - o.started for o in load.outcomes)
    assert slowest < BOUND, f"an answer took {slowest:.1f} s"
    for outcome in load.outcomes:
        assert not leaks(outcome.status or 0, outcome.body), outcome
        if outcome.status == 503 and outcome.operation == "health":
            assert '"status":"unhealthy"' in outcome.body.replace(" ", ""), outcome
        elif outcome.status == 503:
            body = json.loads(outcome.body)
            assert body["detail"] == DATABASE_UNAVAILABLE, outcome
            assert set(body) == {"detail", "request_id"}, outcome


def _check_no_acknowledged_write_lost(load: Load, database_url: str) -> None:
    stored = _stored_titles(database_url)
    acknowledged = [o for o in load.outcomes if o.operation == "create" and o.status == 201]
    assert acknowledged, "no write was acknowledged at all"
    missing = [o.title for o in acknowledged if o.title not in stored]
    assert not missing, f"acknowledged but lost: {missing[:10]}"
    attempted = {o.title for o in load.outcomes if o.operation == "create"}
    assert set(stored) <= attempted, "rows nobody wrote"


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_outage_under_load_answers_503_then_recovers_in_the_same_process(
    cluster: PrivatePostgres, server: Server, database: str, mode: str
) -> None:
    """`fast` is an orderly shutdown (sessions terminated); `immediate` is a crash and recovery."""
    account = register(server.url)
    pid = server.process.pid
    load = Load(server, account)
    load.start()
    try:
        time.sleep(1.0)
        cluster.stop(mode)
        down_at = time.monotonic()
        time.sleep(3.0)
        up_from = time.monotonic()
        cluster.start()
        up_at = time.monotonic()
        deadline = up_at + RECOVERY
        while time.monotonic() < deadline:
            recent = load.between(up_at, time.monotonic())
            if any(o.status in {200, 201} for o in recent if o.operation != "health"):
                break
            time.sleep(0.1)
        time.sleep(1.0)
        steady_from = time.monotonic()
        time.sleep(1.0)
    finally:
        load.stop()

    _check_no_5xx_but_503_and_no_hang(load)
    during = load.between(down_at + 0.5, up_from)
    assert during, "no request ran while the database was down"
    assert {o.status for o in during} == {503}, Counter(o.status for o in during)
    recovered = [o for o in load.between(up_at, up_at + RECOVERY) if o.status in {200, 201}]
    assert recovered, f"nothing succeeded within {RECOVERY} s of the restart"
    steady = load.between(steady_from, time.monotonic())
    assert steady, "no requests after recovery"
    assert {o.status for o in steady} <= {200, 201}, Counter(o.status for o in steady)
    assert server.alive(), "the server process died"
    assert server.process.pid == pid
    _check_no_acknowledged_write_lost(load, database)


def test_server_started_while_the_database_is_down_serves_once_it_is_up(
    cluster: PrivatePostgres, database: str, server_logs: Path
) -> None:
    cluster.stop("fast")
    try:
        with uvicorn_server(server_env(database), server_logs) as server:
            health = httpx.get(f"{server.url}/api/health", timeout=BOUND)
            assert health.status_code == 503
            assert health.json()["database"] == "unreachable"
            signup = httpx.post(
                f"{server.url}/api/auth/signup",
                json={"email": "late@example.com", "name": "Late", "password": "Late-riser-1"},
                timeout=BOUND,
            )
            assert signup.status_code == 503
            assert signup.json() == {
                "detail": DATABASE_UNAVAILABLE,
                "request_id": signup.headers["x-request-id"],
            }
            cluster.start()
            deadline = time.monotonic() + RECOVERY
            while time.monotonic() < deadline:
                if httpx.get(f"{server.url}/api/health", timeout=BOUND).status_code == 200:
                    break
                time.sleep(0.2)
            account = register(server.url, "late@example.com")
            created = httpx.post(
                f"{server.url}/api/tasks", json={"title": "up"}, headers=account.headers
            )
            assert created.status_code == 201
            assert server.alive()
    finally:
        if not cluster.running():
            cluster.start()


def _cluster_pids(cluster: PrivatePostgres) -> list[int]:
    """The postmaster and every backend of the private cluster (nothing of the shared one)."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


def _signal_all(pids: list[int], signal_number: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal_number)


def test_a_frozen_database_answers_503_within_the_bound(
    cluster: PrivatePostgres, server: Server
) -> None:
    account = register(server.url)
    with httpx.Client(base_url=server.url, timeout=BOUND) as client:
        for _ in range(5):  # warm the pool: the next requests reuse these connections
            assert client.get("/api/tasks", headers=account.headers).status_code == 200
    pids = _cluster_pids(cluster)
    _signal_all(pids, signal.SIGSTOP)
    try:
        outcomes: list[int | str] = []

        def ask() -> None:
            try:
                response = httpx.get(
                    f"{server.url}/api/tasks", headers=account.headers, timeout=BOUND
                )
                outcomes.append(response.status_code)
            except httpx.HTTPError as error:
                outcomes.append(type(error).__name__)

        askers = [Thread(target=ask) for _ in range(3)]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join(timeout=BOUND + 5)
    finally:
        _signal_all(pids, signal.SIGCONT)
    assert outcomes == [503, 503, 503]


def _create_until_up(server: Server, account: Account) -> int:
    """Create a task, retrying the 503s of a database that is coming back."""
    deadline = time.monotonic() + RECOVERY
    while True:
        created = httpx.post(
            f"{server.url}/api/tasks", json={"title": "live"}, headers=account.headers
        )
        if created.status_code == 201 or time.monotonic() > deadline:
            assert created.status_code == 201, created.text
            return int(created.json()["id"])
        time.sleep(0.2)


def test_live_events_resume_after_a_restart_and_sockets_are_told_to_refetch(
    cluster: PrivatePostgres, server: Server
) -> None:
    account = register(server.url)
    with live_socket(server.url, account.access_token) as socket:
        socket.wait_until_live(lambda: _create_until_up(server, account))
        cluster.stop("fast")
        cluster.start()
        # Events committed during the outage are lost: the socket closes so the client refetches.
        assert socket.close_code(timeout=30) == 1012
    assert "event listener reconnected" in server.log_text()
    with live_socket(server.url, account.access_token) as socket:
        socket.wait_until_live(lambda: _create_until_up(server, account))
        task_id = _create_until_up(server, account)
        assert socket.next_event()["taskId"] == task_id


def test_a_socket_opened_while_the_database_is_down_is_told_to_try_again(
    cluster: PrivatePostgres, server: Server
) -> None:
    account = register(server.url)
    cluster.stop("fast")
    try:
        assert init_close_code(server.url, account.access_token) == 1013  # not 4403: retry
    finally:
        cluster.start()
