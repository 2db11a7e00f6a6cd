"""PostgreSQL serves every listing order from an index: no order sorts all of a user's tasks, and
a page by key deep in any order reads what the first page reads (contract: "Data")."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, text

from app.prepared import Prepared, PreparedStatements
from app.security import TokenClaims
from app.services.listing import offset_statement, segment_statement, selected_fields
from app.services.listing_filters import Where
from app.services.listing_orders import DEFAULT_ORDER, TRASH_ORDER, Order, order_of
from app.statements import Runner
from models import Task, User
from models.tables import table
from models.task import Sort, TaskFilter, TaskOrderField
from models.utc import utcnow

_users = table(User)
_tasks = table(Task)
ORDERS = [DEFAULT_ORDER] + [
    order_of(Sort(field=field, descending=descending))
    for field in TaskOrderField
    for descending in (False, True)
]


@dataclass(frozen=True)
class Seeded:
    engine: Engine
    viewer: TokenClaims


@pytest.fixture
def seeded(database_url: str) -> Iterator[Seeded]:
    """A user with 3,000 tasks (some due, half of them trashed), and another with 30,000 made
    after them (higher ids: the shape that tempts the planner to walk the primary key), on
    PostgreSQL, analysed. Plans are for the first user."""
    if not database_url.startswith("postgresql"):
        pytest.skip("query plans are PostgreSQL's")
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    now = utcnow()
    users = [uuid.uuid4(), uuid.uuid4()]
    with engine.connect() as connection:
        for user_id, count in zip(users, (3000, 30000), strict=True):
            connection.execute(
                insert(_users),
                {"id": user_id, "email": f"{user_id}@example.com", "name": "n",
                 "password_hash": "h", "created_at": now, "updated_at": now},
            )  # fmt: skip
            connection.execute(
                insert(_tasks),
                [
                    {"user_id": user_id, "title": f"Task {n}", "description": "",
                     "completed": n % 3 == 1, "priority": ["none", "low", "high"][n % 3],
                     "due_at": None if n % 5 == 0 else now + timedelta(hours=n % 17),
                     "deleted_at": now - timedelta(minutes=n) if n % 2 == 0 else None,
                     "created_at": now - timedelta(seconds=n), "updated_at": now}
                    for n in range(count)
                ],
            )  # fmt: skip
        connection.execute(text("ANALYZE"))
    yield Seeded(engine, TokenClaims(users[0], uuid.uuid4(), "access", now, now, uuid.uuid4()))
    engine.dispose()


def _plan(engine: Engine, statement: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes of the plan PostgreSQL chooses for `statement` with `values`."""
    prepared = Prepared.of(statement, engine.dialect)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # EXPLAIN has no SQLAlchemy construct; what it explains is the service's own statement.
        cursor.execute("EXPLAIN (FORMAT JSON) " + prepared.sql, prepared.parameters(values))
        (explained,) = cursor.fetchall()
        plan = explained[0][0]["Plan"]
    finally:
        raw.close()
    found: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        found.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return found


def _summary(nodes: list[dict[str, Any]]) -> list[str]:
    keys = ("Node Type", "Index Name", "Index Cond")
    return [" ".join(str(node.get(key, "")) for key in keys) for node in nodes]


def _served_by_the_users_index(nodes: list[dict[str, Any]]) -> bool:
    """No sort, and the tasks are read through an index range of this user's tasks."""
    scans = [node for node in nodes if node.get("Relation Name") == "tasks"]
    return all(node["Node Type"] != "Sort" for node in nodes) and all(
        node["Node Type"] in {"Index Scan", "Index Only Scan"}
        and "user_id" in node.get("Index Cond", "")
        for node in scans
    )


def _values(engine: Engine, order: Order, where: Where, segment: int) -> dict[str, Any]:
    """The values of a page deep in `segment`: after the task halfway through it, as a cursor
    taken there would name it."""
    runner = Runner(engine, PreparedStatements())
    fields = selected_fields(where.shape, order, None)
    try:
        statement = segment_statement(where.shape, order, segment, False, fields)
        rows = runner.all(statement, {**where.values, "limit": 100_000})
    finally:
        runner.close()
    part = order.segments[segment]
    halfway = dict(zip(fields, rows[len(rows) // 2], strict=True))
    position = part.position_values(part.key_of(halfway))
    return {**where.values, **position, "limit": 51, "offset": 0}


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: order.name)
def test_every_order_pages_without_sorting_the_users_tasks(seeded: Seeded, order: Order) -> None:
    engine, where = seeded.engine, Where.of(seeded.viewer, TaskFilter())
    fields = selected_fields(where.shape, order, None)
    first_page = _plan(
        engine, offset_statement(where.shape, order, fields), _values(engine, order, where, 0)
    )
    assert _served_by_the_users_index(first_page), _summary(first_page)
    for segment in range(len(order.segments)):
        statement = segment_statement(where.shape, order, segment, True, fields)
        deep = _plan(engine, statement, _values(engine, order, where, segment))
        assert _served_by_the_users_index(deep), (segment, _summary(deep))


def test_the_trash_pages_without_sorting(seeded: Seeded) -> None:
    engine, where = seeded.engine, Where.of(seeded.viewer, TaskFilter(), trash=True)
    fields = selected_fields(where.shape, TRASH_ORDER, None)
    statement = segment_statement(where.shape, TRASH_ORDER, 0, True, fields)
    assert _served_by_the_users_index(
        _plan(engine, statement, _values(engine, TRASH_ORDER, where, 0))
    )
