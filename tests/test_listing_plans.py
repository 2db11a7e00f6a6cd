"""PostgreSQL serves every listing order from an index: no order sorts all of a user's tasks, and
a page by key deep in any order reads what the first page reads (contract: "Data")."""

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, insert, select, text

from app.prepared import Prepared, PreparedStatements
from app.security import TokenClaims
from app.services.listing import (
    OWNER_FIELDS,
    offset_statement,
    segment_statement,
    selected_fields,
)
from app.services.listing_filters import Where, _count_statement
from app.services.listing_orders import DEFAULT_ORDER, TRASH_ORDER, Order, order_of
from app.statements import Runner
from models import Tag, Task, TaskTag, User
from models.tables import table
from models.task import Sort, TaskFilter, TaskOrderField
from models.utc import utcnow
from tests.conftest import empty_postgres_database, migrate

_users = table(User)
_tasks = table(Task)
_tags = table(Tag)
_task_tags = table(TaskTag)
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
    with engine.connect() as connection:
        users = _insert_users(connection, (3000, 30000), lambda n: {
            "completed": n % 3 == 1, "priority": ["none", "low", "high"][n % 3],
            "due_at": None if n % 5 == 0 else now + timedelta(hours=n % 17),
            "deleted_at": now - timedelta(minutes=n) if n % 2 == 0 else None,
            "created_at": now - timedelta(seconds=n),
        })  # fmt: skip
        connection.execute(text("ANALYZE"))
    yield _seeded(engine, users[0])
    engine.dispose()


def _insert_users(
    connection: Connection, counts: tuple[int, ...], task: Callable[[int], dict[str, Any]]
) -> list[uuid.UUID]:
    """A user per count, each with that many tasks: task `n`'s fields beyond its owner, its
    title and their defaults are `task(n)`."""
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    users = [uuid.uuid4() for _ in counts]
    for user_id, count in zip(users, counts, strict=True):
        user = {"id": user_id, "email": f"{user_id}@example.com", "name": "n", "password_hash": "h"}
        connection.execute(insert(_users), user | stamps)
        defaults = {"user_id": user_id, "description": "", **stamps}
        rows = [defaults | {"title": f"Task {n}"} | task(n) for n in range(count)]
        connection.execute(insert(_tasks), rows)
    return users


def _seeded(engine: Engine, user_id: uuid.UUID) -> Seeded:
    now = utcnow()
    return Seeded(engine, TokenClaims(user_id, uuid.uuid4(), "access", now, now, uuid.uuid4()))


@pytest.fixture(scope="module")
def tagged() -> Iterator[Seeded]:
    """A user with 10,000 live tasks, every one tagged "bulk", four in five due, and another user
    with 60,000 untagged tasks made after them, on a PostgreSQL database of its own, analysed:
    the shape in which a tag filter planned as an average tag (one tag of the table's in four,
    over every user's tasks) walked the primary key through the other user's tasks. Read only,
    so seeded once for every order. Plans are for the first user."""
    if "TEST_DATABASE_URL" not in os.environ:
        pytest.skip("query plans are PostgreSQL's")
    with empty_postgres_database() as url:
        migrate(url)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        yield _seed_tagged(engine)
        engine.dispose()


def _seed_tagged(engine: Engine) -> Seeded:
    now = utcnow()
    with engine.connect() as connection:
        users = _insert_users(connection, (10_000, 60_000), lambda n: {
            "completed": n % 5 == 0,
            "due_at": None if n % 5 == 1 else now + timedelta(minutes=n % 997),
        })  # fmt: skip
        connection.execute(insert(_tags).values(user_id=users[0], name="bulk", key="bulk"))
        carried = (
            select(_tasks.c.id, _tags.c.id)
            .join(_tags, _tags.c.user_id == _tasks.c.user_id)
            .where(_tasks.c.user_id == users[0])
        )
        connection.execute(insert(_task_tags).from_select(["task_id", "tag_id"], carried))
        connection.execute(text("ANALYZE"))
    return _seeded(engine, users[0])


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
        statement = segment_statement(where.shape, order, segment, False, fields, ())
        rows = runner.all(statement, {**where.values, "limit": 100_000})
    finally:
        runner.close()
    part = order.segments[segment]
    halfway = dict(zip(fields, rows[len(rows) // 2][: len(fields)], strict=True))
    position = part.position_values(part.key_of(halfway))
    return {**where.values, **position, "limit": 51, "offset": 0}


def _assert_pages_served_by_the_users_index(engine: Engine, where: Where, order: Order) -> None:
    """The first page of `where` in `order`, and a page deep in each of its segments, as GraphQL
    asks for them: with their owner's fields."""
    fields = selected_fields(where.shape, order, None)
    first_page = _plan(
        engine,
        offset_statement(where.shape, order, fields, OWNER_FIELDS),
        _values(engine, order, where, 0),
    )
    assert _served_by_the_users_index(first_page), _summary(first_page)
    for segment in range(len(order.segments)):
        statement = segment_statement(where.shape, order, segment, True, fields, OWNER_FIELDS)
        deep = _plan(engine, statement, _values(engine, order, where, segment))
        assert _served_by_the_users_index(deep), (segment, _summary(deep))


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: order.name)
def test_every_order_pages_without_sorting_the_users_tasks(seeded: Seeded, order: Order) -> None:
    _assert_pages_served_by_the_users_index(
        seeded.engine, Where.of(seeded.viewer, TaskFilter()), order
    )


def test_the_trash_pages_without_sorting(seeded: Seeded) -> None:
    engine, where = seeded.engine, Where.of(seeded.viewer, TaskFilter(), trash=True)
    fields = selected_fields(where.shape, TRASH_ORDER, None)
    statement = segment_statement(where.shape, TRASH_ORDER, 0, True, fields, OWNER_FIELDS)
    assert _served_by_the_users_index(
        _plan(engine, statement, _values(engine, TRASH_ORDER, where, 0))
    )


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: order.name)
def test_a_tag_filter_pages_through_the_users_index_in_every_order(
    tagged: Seeded, order: Order
) -> None:
    """Whatever other users hold, a page filtered by a tag on most of the user's tasks reads the
    user's own index in order and stops at the page's end."""
    where = Where.of(tagged.viewer, TaskFilter(tags=["bulk"]))
    _assert_pages_served_by_the_users_index(tagged.engine, where, order)


def test_a_tag_filter_counts_only_the_users_tasks(tagged: Seeded) -> None:
    """The count of a tag filter (every REST page, `totalCount`) reads the user's tasks through
    an index of theirs (in whichever way: a count needs no order), no other user's."""
    where = Where.of(tagged.viewer, TaskFilter(tags=["bulk"]))
    counted = _plan(tagged.engine, _count_statement(where.shape), where.values)
    scans = [node for node in counted if node.get("Relation Name") == "tasks"]
    assert scans, _summary(counted)
    for scan in scans:
        condition = scan.get("Index Cond") or scan.get("Recheck Cond", "")
        assert "user_id" in condition, _summary(counted)
