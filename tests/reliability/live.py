"""Talking to a real server over HTTP: accounts, and many requests at once."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from threading import Event, Thread
from typing import TypeVar

import httpx

from tests.support import PASSWORD, Account

T = TypeVar("T")
TIMEOUT = httpx.Timeout(30.0)


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


def register(base_url: str, email: str | None = None, password: str = PASSWORD) -> Account:
    """Sign up and log in over HTTP."""
    email = email or unique_email("user")
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        body = {"email": email, "name": "Reliable", "password": password}
        response = client.post("/api/auth/signup", json=body)
        assert response.status_code == 201, response.text
        return login(client, email, password)


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> Account:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(email, password, tokens["access_token"], tokens["refresh_token"])


def at_once(
    base_url: str,
    count: int,
    request: Callable[[httpx.AsyncClient, int], Awaitable[T]],
    *,
    connections: int | None = None,
) -> list[T]:
    """Run `request(client, index)` for every index in `range(count)` concurrently; results in
    index order. Each request has its own connection (up to `connections`), so the server sees
    them in parallel."""

    async def main() -> list[T]:
        limits = httpx.Limits(max_connections=connections or count, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, limits=limits) as client:
            return list(await asyncio.gather(*(request(client, index) for index in range(count))))

    return asyncio.run(main())


@dataclass
class HealthWatch:
    """What a background poller of /api/health saw."""

    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    slowest: float = 0.0

    def assert_healthy(self, *, min_polls: int = 2, max_seconds: float = 5.0) -> None:
        assert len(self.statuses) >= min_polls, f"only {len(self.statuses)} health polls"
        assert not self.errors, f"health polls failed: {self.errors[:3]}"
        assert set(self.statuses) == {200}, f"health answered {sorted(set(self.statuses))}"
        assert self.slowest < max_seconds, f"a health poll took {self.slowest:.1f} s"


@contextmanager
def watching_health(base_url: str, interval: float = 0.05) -> Iterator[HealthWatch]:
    """Poll `/api/health` from a thread for as long as the block runs."""
    watch = HealthWatch()
    stop = Event()
    first = Event()

    def poll_once(client: httpx.Client) -> None:
        try:
            response = client.get("/api/health")
            watch.statuses.append(response.status_code)
            watch.slowest = max(watch.slowest, response.elapsed.total_seconds())
        except httpx.HTTPError as error:
            watch.errors.append(repr(error))

    def poll() -> None:
        with httpx.Client(base_url=base_url, timeout=10.0) as client:
            poll_once(client)  # once before the block starts ...
            first.set()
            while not stop.wait(interval):
                poll_once(client)
            poll_once(client)  # ... and once after it: the server must still be well

    thread = Thread(target=poll, name="health-watch", daemon=True)
    thread.start()
    first.wait(timeout=15)
    try:
        yield watch
    finally:
        stop.set()
        thread.join(timeout=15)
