"""SIGTERM under load: requests in flight finish, sockets are told to reconnect (1012), no
acknowledged write is lost, and the process ends within uvicorn's graceful bound."""

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import migrate
from tests.reliability.live import register
from tests.reliability.servers import server_env, uvicorn_server
from tests.reliability.sockets import live_socket
from tests.support import Account

WRITERS = 4
GRACE = 3  # uvicorn_server's --timeout-graceful-shutdown
SLOW_ROUNDS = "13"  # a login's bcrypt work takes a good part of a second


@dataclass
class Writers:
    """Threads creating tasks until the server stops answering; each create's title and status
    (None: no answer, the server had stopped listening)."""

    url: str
    account: Account
    created: list[tuple[str, int | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, worker: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30, headers=self.account.headers) as client:
            for index in range(100_000):  # bounded; the server stops long before
                if self.stop.is_set():
                    return
                title = f"w{worker}-{index}"
                try:
                    status: int | None = client.post(
                        "/api/tasks", json={"title": title}
                    ).status_code
                except httpx.HTTPError:
                    status = None
                self.created.append((title, status))
                if status is None:
                    return


def _titles(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {title for (title,) in connection.execute(text("SELECT title FROM tasks"))}
    finally:
        engine.dispose()


def test_sigterm_under_load_finishes_requests_and_tells_sockets_to_reconnect(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shutdown.db'}"
    migrate(url)
    env = server_env(url, BCRYPT_ROUNDS=SLOW_ROUNDS)
    with uvicorn_server(env, tmp_path, app=("app.main:app",)) as server:
        account = register(server.url)
        writers = Writers(server.url, account)
        threads = [threading.Thread(target=writers.run, args=(n,)) for n in range(WRITERS)]
        slow_login: list[int] = []

        def log_in() -> None:
            body = {"email": account.email, "password": account.password}
            slow_login.append(
                httpx.post(f"{server.url}/api/auth/login", json=body, timeout=30).status_code
            )

        with live_socket(server.url, account.access_token) as socket:
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # under load
            login = threading.Thread(target=log_in)
            login.start()
            time.sleep(0.1)  # the login is hashing
            stopped_at = time.monotonic()
            os.killpg(server.process.pid, signal.SIGTERM)
            close_code = socket.close_code(timeout=GRACE + 5)
            exit_code = server.process.wait(timeout=GRACE + 10)
            ended_in = time.monotonic() - stopped_at
        login.join(timeout=30)
        writers.stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert close_code == 1012  # "service restart": clients reconnect and refetch
    assert slow_login == [200]  # in flight when SIGTERM came: answered
    assert exit_code == -signal.SIGTERM  # uvicorn re-raises the signal once it has shut down
    assert ended_in < GRACE + 5
    acknowledged = {title for title, status in writers.created if status == 201}
    assert len(acknowledged) > WRITERS, "the load ran"
    assert {status for _, status in writers.created} <= {201, None}
    assert acknowledged <= _titles(url), "an acknowledged write was lost"
