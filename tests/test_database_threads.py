"""`Database`'s worker threads: at most `threads` units at once, each within the deadline, and a
unit whose caller gave up while it waited for a thread never runs."""

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from app.database import Database
from app.engine import create_db_engine
from app.errors import Unavailable
from app.metrics import Metrics
from app.settings import Settings
from app.statements import Runner


@pytest.fixture
def two_threads(settings: Settings) -> Iterator[Database]:
    db = Database(
        create_db_engine(settings, autocommit=True), timeout=1.0, threads=2, metrics=Metrics()
    )
    yield db
    asyncio.run(db.close(within=5))


def test_no_more_units_run_at_once_than_the_database_has_threads(two_threads: Database) -> None:
    lock = threading.Lock()
    running = most = 0

    def unit(_runner: Runner) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def six_at_once() -> None:
        await asyncio.gather(*(two_threads.run(unit) for _ in range(6)))

    asyncio.run(six_at_once())
    assert most == 2


def test_a_unit_given_up_while_it_waited_for_a_thread_never_runs(two_threads: Database) -> None:
    release = threading.Event()
    ran: list[str] = []

    def stuck(_runner: Runner) -> None:
        release.wait(5)

    def behind(_runner: Runner) -> None:
        ran.append("behind")

    async def scenario() -> tuple[object, ...]:
        return await asyncio.gather(
            two_threads.run(stuck),
            two_threads.run(stuck),
            two_threads.run(behind),  # waits for one of the two threads, past the deadline
            return_exceptions=True,
        )

    try:
        answers = asyncio.run(scenario())
    finally:
        release.set()
    assert [type(answer) for answer in answers] == [Unavailable] * 3
    time.sleep(0.2)  # the abandoned threads end once released, and are free again
    assert ran == []
