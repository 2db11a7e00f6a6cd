"""`SharedTrips`: the units of work a GraphQL request asks for at once share one worker thread
and one connection, and each still gets its own answer."""

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from app.database import Database, SharedTrips
from app.engine import create_db_engine
from app.errors import NotFound, Unavailable
from app.metrics import Metrics
from app.settings import Settings
from app.statements import Runner
from tests.support import Account, graphql

asking = contextvars.ContextVar[str]("asking")


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(
        create_db_engine(settings, autocommit=True), timeout=10, threads=4, metrics=Metrics()
    )
    yield db
    db.engine.dispose()


@pytest.fixture
def trips(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of units of each trip to a worker thread that `database` runs."""
    taken: list[int] = []
    run = database.run

    async def counted(service: Any, calls: list[Any]) -> Any:
        taken.append(len(calls))
        return await run(service, calls)

    monkeypatch.setattr(database, "run", counted)
    return taken


def _seen(runner: Runner, name: str) -> tuple[str, int, int]:
    """Who asked, on which runner and in which thread."""
    return name, id(runner), threading.get_ident()


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Each call started in the same turn of the loop, as GraphQL starts a batch's operations;
    what each answered or raised."""

    async def scenario() -> list[Any]:
        return await asyncio.gather(*(call() for call in calls), return_exceptions=True)

    return asyncio.run(scenario())


def test_units_asked_for_at_once_share_one_trip_one_runner_and_one_thread(
    database: Database, trips: list[int]
) -> None:
    shared = SharedTrips(database)
    answers = _at_once(*(lambda name=name: shared.run(_seen, name) for name in "abc"))
    assert [name for name, _, _ in answers] == ["a", "b", "c"]
    assert len({(runner, thread) for _, runner, thread in answers}) == 1
    assert trips == [3]


def test_a_unit_asked_for_after_the_trip_left_takes_a_trip_of_its_own(
    database: Database, trips: list[int]
) -> None:
    shared = SharedTrips(database)

    async def one_after_another() -> list[str]:
        return [(await shared.run(_seen, name))[0] for name in ("first", "second")]

    assert asyncio.run(one_after_another()) == ["first", "second"]
    assert trips == [1, 1]


def test_each_unit_gets_its_own_error_and_the_others_their_answers(database: Database) -> None:
    shared = SharedTrips(database)

    def refused(_runner: Runner) -> None:
        raise NotFound("Task 7 was not found")

    answers = _at_once(
        lambda: shared.run(_seen, "before"),
        lambda: shared.run(refused),
        lambda: shared.run(_seen, "after"),
    )
    assert [answers[0][0], answers[2][0]] == ["before", "after"]
    assert isinstance(answers[1], NotFound)
    assert str(answers[1]) == "Task 7 was not found"


def test_a_unit_whose_database_fails_it_gets_unavailable_alone(database: Database) -> None:
    shared = SharedTrips(database)

    def unreachable(_runner: Runner) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    answers = _at_once(lambda: shared.run(unreachable), lambda: shared.run(_seen, "fine"))
    assert isinstance(answers[0], Unavailable)
    assert answers[1][0] == "fine"


def test_a_trip_past_the_deadline_answers_every_unit_unavailable(settings: Settings) -> None:
    db = Database(
        create_db_engine(settings, autocommit=True), timeout=0.2, threads=1, metrics=Metrics()
    )
    shared = SharedTrips(db)
    release = threading.Event()

    def stuck(_runner: Runner) -> None:
        release.wait(5)

    try:
        answers = _at_once(lambda: shared.run(stuck), lambda: shared.run(_seen, "behind it"))
    finally:
        release.set()
    assert [type(answer) for answer in answers] == [Unavailable, Unavailable]
    time.sleep(0.1)  # the abandoned thread ends once released
    db.engine.dispose()


def test_each_unit_runs_in_the_context_it_was_asked_for_in(database: Database) -> None:
    """A unit's log lines carry its request's fields and its statements' spans hang under its
    own operation: both live in context variables."""
    shared = SharedTrips(database)

    def who_asks(_runner: Runner) -> str:
        return asking.get()

    async def asked_by(name: str) -> str:
        asking.set(name)
        return await shared.run(who_asks)

    assert _at_once(lambda: asked_by("first"), lambda: asked_by("second")) == [
        "first",
        "second",
    ]


def test_a_caller_that_stops_waiting_leaves_the_others_their_answers(
    database: Database,
) -> None:
    shared = SharedTrips(database)
    release = threading.Event()

    def slow(runner: Runner, name: str) -> tuple[str, int, int]:
        release.wait(5)
        return _seen(runner, name)

    async def scenario() -> tuple[str, int, int]:
        gone = asyncio.create_task(shared.run(slow, "gone"))
        staying = asyncio.create_task(shared.run(slow, "staying"))
        await asyncio.sleep(0.05)  # both aboard, the trip under way
        gone.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await staying

    assert asyncio.run(scenario())[0] == "staying"


@contextlib.contextmanager
def pool_checkouts(app: FastAPI) -> Iterator[list[object]]:
    """Each connection the app's pool hands out meanwhile."""
    checkouts: list[object] = []
    engine = app.state.runtime.db.engine

    def checked_out(*_: object) -> None:
        checkouts.append(None)

    event.listen(engine, "checkout", checked_out)
    try:
        yield checkouts
    finally:
        event.remove(engine, "checkout", checked_out)


# With `statements` in a test, each query runs once: no second executor compares its answer.


def test_a_batch_of_queries_takes_one_connection_from_the_pool(
    app: FastAPI, client: TestClient, alice: Account, statements: list[str]
) -> None:
    batch = [
        {"query": "query { me { email } }"},
        {"query": "query { taskStats { total } }"},
        {"query": "query { tasks(first: 5) { nodes { id } } }"},
    ]
    with pool_checkouts(app) as checkouts:
        answer = client.post("/graphql", json=batch, headers=alice.headers)
    assert answer.status_code == 200
    assert [list(each["data"]) for each in answer.json()] == [["me"], ["taskStats"], ["tasks"]]
    assert len(checkouts) == 1


def test_root_fields_of_one_query_take_one_connection_from_the_pool(
    app: FastAPI, client: TestClient, alice: Account, statements: list[str]
) -> None:
    query = "query { me { email } taskStats { total } tags { name } }"
    with pool_checkouts(app) as checkouts:
        body = graphql(client, query, account=alice)
    assert body["data"]["me"]["email"] == alice.email
    assert body["data"]["taskStats"]["total"] == 0
    assert len(checkouts) == 1


def test_a_batch_reads_its_user_once(
    client: TestClient, alice: Account, statements: list[str]
) -> None:
    batch = [{"query": "query { me { email } }"}, {"query": "query { tasks { nodes { id } } }"}]
    answer = client.post("/graphql", json=batch, headers=alice.headers)
    assert answer.status_code == 200
    assert len([sql for sql in statements if "FROM users" in sql]) == 1


def test_an_operation_whose_fields_are_cancelled_leaves_the_batch_its_user(
    client: TestClient, alice: Account
) -> None:
    """`tasks(first: 0)` fails a non-null root field, so graphql-core cancels `me` beside it,
    while `me` waits for the user the whole batch shares."""
    batch = [
        {"query": "query { me { email } tasks(first: 0) { nodes { id } } }"},
        {"query": "query { me { email } }"},
    ]
    answer = client.post("/graphql", json=batch, headers=alice.headers)
    assert answer.status_code == 200
    failed, fine = answer.json()
    assert failed["data"] is None
    assert [error["extensions"]["code"] for error in failed["errors"]] == ["BAD_USER_INPUT"]
    assert fine == {"data": {"me": {"email": alice.email}}}


def test_the_largest_batch_of_units_fits_one_trip(
    app: FastAPI, client: TestClient, alice: Account, statements: list[str]
) -> None:
    """A batch at the document limits (10 operations of 30 aliased root fields and four more)
    runs its 340 units one after another on one connection, within the database's deadline."""
    aliased = " ".join(f"s{number}: taskStats {{ total }}" for number in range(30))
    others = "me { id } tags { name } sessions { id } trash { nodes { id } }"
    query = f"query {{ {aliased} {others} }}"
    with pool_checkouts(app) as checkouts:
        answer = client.post("/graphql", json=[{"query": query}] * 10, headers=alice.headers)
    assert answer.status_code == 200
    assert all("errors" not in each and len(each["data"]) == 34 for each in answer.json())
    assert len(checkouts) == 1
