"""PostgreSQL serves every listing order from an index: no order sorts all of a user's tasks, and
a page by key deep in any order reads what the first page reads (contract: "Data")."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, text

from app.services.listing import (
    DEFAULT_ORDER,
    TRASH_ORDER,
    Order,
    Where,
    offset_statement,
    order_of,
    segment_statement,
)
from app.statements import Prepared
from models import Task, User
from models.task import Sort, TaskFilter, TaskOrder
from models.utc import utcnow

_users = User.metadata.tables[User.__tablename__]
_tasks = Task.metadata.tables[Task.__tablename__]
ORDERS = [DEFAULT_ORDER] + [
    order_of(Sort(field=field, descending=descending))
    for field in TaskOrder
    for descending in (False, True)
]


@dataclass(frozen=True)
class Seeded:
    engine: Engine
    user_id: uuid.UUID


@pytest.fixture
def seeded(database_url: str) -> Iterator[Seeded]:
    """Two users with 3,000 tasks each (some due, half of them trashed), on PostgreSQL, analysed."""
    if not database_url.startswith("postgresql"):
        pytest.skip("query plans are PostgreSQL's")
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    now = utcnow()
    users = [uuid.uuid4(), uuid.uuid4()]
    with engine.connect() as connection:
        for user_id in users:
            connection.execute(
                insert(_users),
                {"id": user_id, "email": f"{user_id}@example.com", "name": "n",
                 "password_hash": "h", "created_at": now, "updated_at": now},
            )  # fmt: skip
            connection.execute(
                insert(_tasks),
                [
                    {"user_id": user_id, "title": f"Task {n}", "description": "",
                     "completed": n % 4 == 0, "priority": ["none", "low", "high"][n % 3],
                     "due_at": None if n % 5 == 0 else now + timedelta(hours=n % 17),
                     "deleted_at": now - timedelta(minutes=n) if n % 2 == 0 else None,
                     "created_at": now - timedelta(seconds=n), "updated_at": now}
                    for n in range(3000)
                ],
            )  # fmt: skip
        connection.execute(text("ANALYZE"))
    yield Seeded(engine, users[0])
    engine.dispose()


def _plan(engine: Engine, statement: Any, values: dict[str, Any]) -> list[str]:
    """The node types of the plan PostgreSQL chooses for `statement` with `values`."""
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
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        found.append(node["Node Type"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return found


def _values(order: Order, where: Where, segment: int) -> dict[str, Any]:
    part = order.segments[segment]
    now = utcnow()
    sample = {
        "created_at": now, "updated_at": now, "due_at": now, "deleted_at": now,
        "priority": "low", "title_key": "task 5", "id": 1000,
    }  # fmt: skip
    position = {f"after_{i}": sample[column.name] for i, column in enumerate(part.key)}
    return {**where.values, **position, "limit": 51, "offset": 0}


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: order.name)
def test_every_order_pages_without_sorting_the_users_tasks(seeded: Seeded, order: Order) -> None:
    engine, where = seeded.engine, Where.of(seeded.user_id, TaskFilter())
    first_page = _plan(engine, offset_statement(where.shape, order), _values(order, where, 0))
    assert "Sort" not in first_page, first_page
    for segment in range(len(order.segments)):
        statement = segment_statement(where.shape, order, segment, True)
        deep = _plan(engine, statement, _values(order, where, segment))
        assert "Sort" not in deep, (segment, deep)
        assert {"Index Scan", "Index Only Scan"} & set(deep), (segment, deep)


def test_the_trash_pages_without_sorting(seeded: Seeded) -> None:
    engine, where = seeded.engine, Where.of(seeded.user_id, TaskFilter(), trash=True)
    statement = segment_statement(where.shape, TRASH_ORDER, 0, True)
    assert "Sort" not in _plan(engine, statement, _values(TRASH_ORDER, where, 0))
