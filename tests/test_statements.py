"""`Runner`: prepared statements on the driver's cursor behave as SQLAlchemy's execution would."""

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError

from app.database import Database
from app.prepared import PreparedStatements
from app.services.listing import offset_statement
from app.services.listing_filters import SHAPES_KEPT
from app.statements import Runner
from models import Task, User
from tests.support import Account, create_task

_tasks = Task.metadata.tables["tasks"]
_users = User.metadata.tables["users"]
_INSERT = insert(_tasks).values(
    user_id=bindparam("user_id"), title="t", description="", completed=False
)
_COUNT = select(func.count()).select_from(_users)
_BACKEND_PID = select(func.pg_backend_pid())


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.runtime.db
    return database


def test_a_refused_write_raises_sqlalchemys_error_and_the_connection_goes_on(
    runner: Runner, alice: Account
) -> None:
    with pytest.raises(IntegrityError):  # no such user: the foreign key refuses the row
        runner.all(_INSERT, {"user_id": uuid.uuid4()})
    assert runner.scalar(_COUNT) == 1


def test_a_statement_missing_a_value_is_refused_before_it_runs(runner: Runner) -> None:
    with pytest.raises(
        InvalidRequestError, match="A value is required for bind parameter 'user_id'"
    ):
        runner.all(_INSERT, {})


def _kill_connection_of(runner: Runner, db: Database, database_url: str) -> None:
    """Terminate the PostgreSQL backend behind `runner`'s connection, as a restart would."""
    if not database_url.startswith("postgresql"):
        pytest.skip("an SQLite connection cannot be killed from outside")
    backend = runner.scalar(_BACKEND_PID)
    killer = Runner(db.engine, PreparedStatements())
    try:
        killer.scalar(select(func.pg_terminate_backend(bindparam("pid"))), {"pid": backend})
    finally:
        killer.close()


def test_a_read_on_a_dead_connection_is_answered_on_a_fresh_one(
    db: Database, runner: Runner, alice: Account, database_url: str
) -> None:
    _kill_connection_of(runner, db, database_url)
    assert runner.scalar(_COUNT) == 1


def test_a_write_on_a_dead_connection_is_not_repeated(
    db: Database, runner: Runner, alice: Account, database_url: str
) -> None:
    """It may have run before the connection died; the caller answers 503 instead."""
    _kill_connection_of(runner, db, database_url)
    with pytest.raises(DBAPIError) as raised:
        runner.all(_INSERT, {"user_id": uuid.uuid4()})
    assert raised.value.connection_invalidated
    assert runner.scalar(_COUNT) == 1  # and the runner has a working connection again


def test_statements_are_compiled_once_whatever_the_traffic(
    client: TestClient, db: Database, alice: Account
) -> None:
    """Every statement the services run is built once: a second round of every route compiles
    nothing new (a statement built per call would be compiled on every call)."""

    def every_route() -> None:
        task = create_task(client, alice, "t", description="d")
        headers = alice.headers
        client.get("/api/tasks?completed=true&q=t&limit=5&offset=1", headers=headers)
        client.get("/api/tasks/stats", headers=headers)
        client.get(f"/api/tasks/{task['id']}", headers=headers)
        client.put(f"/api/tasks/{task['id']}", json={"title": "u"}, headers=headers)
        client.patch(f"/api/tasks/{task['id']}", json={"completed": True}, headers=headers)
        client.patch(f"/api/tasks/{task['id']}/toggle", headers=headers)
        client.delete(f"/api/tasks/{task['id']}", headers=headers)
        client.delete(f"/api/tasks/{task['id']}", headers=headers)
        client.get("/api/auth/me", headers=headers)
        client.get("/api/health")

    every_route()
    compiled = len(db._prepared)
    every_route()
    assert len(db._prepared) == compiled


def test_a_statement_run_again_is_not_compiled_again(db: Database) -> None:
    prepared = PreparedStatements(size=2)
    first = prepared.of(_COUNT, db.engine.dialect)
    assert prepared.of(_COUNT, db.engine.dialect) is first


def test_the_least_recently_run_statement_is_the_one_forgotten(db: Database) -> None:
    prepared = PreparedStatements(size=2)
    dialect = db.engine.dialect
    count = prepared.of(_COUNT, dialect)
    insert = prepared.of(_INSERT, dialect)
    prepared.of(_COUNT, dialect)  # now the most recent
    prepared.of(_BACKEND_PID, dialect)  # one too many: _INSERT goes
    assert len(prepared) == 2
    assert prepared.of(_COUNT, dialect) is count
    assert prepared.of(_INSERT, dialect) is not insert  # compiled again


def test_a_new_listing_shape_on_every_request_keeps_the_caches_bounded(
    client: TestClient, db: Database, alice: Account
) -> None:
    """Each count of tags and each order is a statement shape of its own: a client can name a
    new one on every request. The shapes' statements and their compiled forms stay bounded (the
    database's compiled ones held to 64 here, to need fewer requests), and a shape asked for
    again after its statements were forgotten is answered right."""
    db._prepared = PreparedStatements(size=64)
    create_task(client, alice, "tagged", tags=["t0"])
    sorts = ["created_at", "-created_at", "updated_at", "-updated_at", "priority", "-priority",
             "title", "-title", "due_at", "-due_at"]  # fmt: skip
    shapes = [(tags, sort) for tags in range(1, 21) for sort in sorts]
    assert len(shapes) > SHAPES_KEPT

    def listed(tags: int, sort: str) -> list[str]:
        query = "&".join(f"tag=t{i}" for i in range(tags))
        answer = client.get(f"/api/tasks?{query}&sort={sort}", headers=alice.headers)
        assert answer.status_code == 200, answer.text
        return [task["title"] for task in answer.json()]

    for shape in shapes:
        listed(*shape)
    assert len(db._prepared) <= 64
    assert offset_statement.cache_info().currsize <= SHAPES_KEPT
    assert listed(1, "created_at") == ["tagged"]  # forgotten, then built again
