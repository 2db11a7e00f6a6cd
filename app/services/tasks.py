"""Tasks: listing, paging, reading and changing a user's own tasks.

Every statement is narrowed to the owner (`_conditions` starts with it), so no caller can forget
whose tasks it is looking at. Each service is one statement (a read, or an INSERT/UPDATE/DELETE
that is atomic by itself), so the doors run them with `Database.read`: no transaction round trips.

The statements of the listing are built once per shape of filter (which filters are present) with
bound parameters, and reused: building a SQLAlchemy statement costs more than running it. Tasks
come back as rows (`TaskRow`: the public fields by name), never as ORM objects.
"""

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    bindparam,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    tuple_,
    update,
)

from app.database import unicode_lower
from app.errors import FieldError, InvalidInput, NotFound
from app.services.cursors import decode_cursor, encode_cursor
from models.task import TASK_FIELDS, Task, TaskCreate, TaskFilter, TaskStats, TaskUpdate
from models.types import UTCDateTime, utcnow

TASK_NOT_FOUND = "Task not found"
MAX_PAGE_SIZE = 500
MAX_TASK_ID = 2**31 - 1  # the `tasks.id` column is a 32-bit integer, like GraphQL's Int

TaskRow = dict[str, Any]  # a task as its owner sees it: the fields of `TaskBase` by name

_tasks = Task.metadata.tables[Task.__tablename__]
_columns = _tasks.c
_PUBLIC_COLUMNS = tuple(_columns[name] for name in TASK_FIELDS)

# The contract's listing order: incomplete first, then newest first, then highest id first.
LISTING_ORDER = (_columns.completed.asc(), _columns.created_at.desc(), _columns.id.desc())


def _row(values: Any) -> TaskRow:
    return dict(zip(TASK_FIELDS, values, strict=True))


def _rows(connection: Connection, statement: Select[Any], values: dict[str, Any]) -> list[TaskRow]:
    return [_row(found) for found in connection.execute(statement, values)]


def _conditions(*, completed: bool, search: bool) -> list[ColumnElement[bool]]:
    """The owner's tasks, narrowed by the filters present; their values are bound later."""
    conditions = [_columns.user_id == bindparam("user_id")]
    if completed:
        conditions.append(_columns.completed == bindparam("completed"))
    if search:
        needle = bindparam("needle", type_=String())
        conditions.append(
            or_(
                unicode_lower(_columns.title).like(needle, escape="/"),
                unicode_lower(_columns.description).like(needle, escape="/"),
            )
        )
    return conditions


@cache
def _count_statement(*, completed: bool, search: bool) -> Select[Any]:
    return (
        select(func.count())
        .select_from(_tasks)
        .where(*_conditions(completed=completed, search=search))
    )


@cache
def _page_statement(
    *, completed: bool, search: bool, state: bool = False, below: bool = False
) -> Select[Any]:
    """A page in the listing order. `state` keeps one completion state (`:state`); `below`
    starts under a keyset position (`:after_created_at`, `:after_id`)."""
    conditions = _conditions(completed=completed, search=search)
    if state:
        conditions.append(_columns.completed == bindparam("state"))
    if below:
        position = tuple_(bindparam("after_created_at", type_=UTCDateTime()), bindparam("after_id"))
        conditions.append(tuple_(_columns.created_at, _columns.id) < position)
    return (
        select(*_PUBLIC_COLUMNS)
        .where(*conditions)
        .order_by(*LISTING_ORDER)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


def _like_pattern(text: str) -> str:
    """`text` anywhere, lower-cased, with `%`, `_` and the escape character matched literally."""
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class _Filter:
    """A `TaskFilter` as a statement shape and the values to bind into it."""

    shape: dict[str, bool]
    values: dict[str, Any]

    @classmethod
    def of(cls, user_id: uuid.UUID, task_filter: TaskFilter) -> "_Filter":
        values: dict[str, Any] = {"user_id": user_id}
        if task_filter.completed is not None:
            values["completed"] = task_filter.completed
        if task_filter.search:
            values["needle"] = _like_pattern(task_filter.search)
        shape = {"completed": "completed" in values, "search": "needle" in values}
        return cls(shape, values)


def count_tasks(connection: Connection, user_id: uuid.UUID, /, *, task_filter: TaskFilter) -> int:
    return _count(connection, _Filter.of(user_id, task_filter))


def _count(connection: Connection, where: _Filter) -> int:
    return int(connection.execute(_count_statement(**where.shape), where.values).scalar_one())


@dataclass(frozen=True)
class TaskList:
    tasks: list[TaskRow]
    total: int  # matching the filter, before limit and offset


def list_tasks(
    connection: Connection,
    user_id: uuid.UUID,
    /,
    *,
    task_filter: TaskFilter,
    limit: int,
    offset: int,
) -> TaskList:
    """One page by offset, in the listing order, with the count of all that match."""
    where = _Filter.of(user_id, task_filter)
    values = {**where.values, "limit": limit, "offset": offset}
    tasks = _rows(connection, _page_statement(**where.shape), values)
    return TaskList(tasks=tasks, total=_count(connection, where))


@dataclass(frozen=True)
class TaskPage:
    tasks: list[TaskRow]
    has_next_page: bool
    cursors: list[str]


def page_tasks(
    connection: Connection,
    user_id: uuid.UUID,
    /,
    *,
    task_filter: TaskFilter,
    first: int,
    after: str | None,
    cursor_key: str,
) -> TaskPage:
    """One page in the listing order, by key: a deep page costs what the first one costs.

    After a cursor, the rest of its completion state comes first (an index range on
    `(created_at, id)` below the cursor), then, if the page is not full and the cursor was an
    incomplete task, the completed tasks from the top: at most two index-served queries.
    """
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"first must be between 1 and {MAX_PAGE_SIZE}",
            [FieldError("first", f"must be between 1 and {MAX_PAGE_SIZE}")],
        )
    where = _Filter.of(user_id, task_filter)
    wanted = first + 1  # one more than the page tells whether another page follows
    values = {**where.values, "limit": wanted, "offset": 0}
    if after is None:
        rows = _rows(connection, _page_statement(**where.shape), values)
    else:
        position = decode_cursor(after, user_id, cursor_key)
        keyset = {
            "state": position.completed,
            "after_created_at": position.created_at,
            "after_id": position.id,
        }
        below = _page_statement(**where.shape, state=True, below=True)
        rows = _rows(connection, below, {**values, **keyset})
        if len(rows) < wanted and not position.completed:
            rest = {**values, "state": True, "limit": wanted - len(rows)}
            rows += _rows(connection, _page_statement(**where.shape, state=True), rest)
    tasks = rows[:first]
    return TaskPage(
        tasks=tasks,
        has_next_page=len(rows) > first,
        cursors=[encode_cursor(task, user_id, cursor_key) for task in tasks],
    )


_GET = select(*_PUBLIC_COLUMNS).where(
    _columns.id == bindparam("task_id"), _columns.user_id == bindparam("user_id")
)


def find_task(connection: Connection, user_id: uuid.UUID, /, *, task_id: int) -> TaskRow | None:
    """The task, if it exists and belongs to the user; `None` otherwise (the two look alike)."""
    if not 1 <= task_id <= MAX_TASK_ID:
        return None
    found = connection.execute(_GET, {"task_id": task_id, "user_id": user_id}).first()
    return _row(found) if found else None


def get_task(connection: Connection, user_id: uuid.UUID, /, *, task_id: int) -> TaskRow:
    task = find_task(connection, user_id, task_id=task_id)
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return task


_CREATE = (
    insert(_tasks)
    .values(
        user_id=bindparam("user_id"),
        title=bindparam("title"),
        description=bindparam("description"),
        completed=False,
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(*_PUBLIC_COLUMNS)
)


def create_task(connection: Connection, user_id: uuid.UUID, /, *, data: TaskCreate) -> TaskRow:
    values = {
        "user_id": user_id,
        "title": data.title,
        "description": data.description or "",
        "now": utcnow(),
    }
    return _row(connection.execute(_CREATE, values).one())


def _change(
    connection: Connection, user_id: uuid.UUID, task_id: int, values: dict[str, Any]
) -> TaskRow:
    """One UPDATE of the user's task that answers the task as it is after it."""
    if not 1 <= task_id <= MAX_TASK_ID:
        raise NotFound(TASK_NOT_FOUND)
    statement = (
        update(_tasks)
        .where(_columns.id == task_id, _columns.user_id == user_id)
        .values(**values, updated_at=utcnow())
        .returning(*_PUBLIC_COLUMNS)
    )
    changed = connection.execute(statement).first()
    if changed is None:
        raise NotFound(TASK_NOT_FOUND)
    return _row(changed)


def update_task(
    connection: Connection, user_id: uuid.UUID, /, *, task_id: int, changes: TaskUpdate
) -> TaskRow:
    return _change(connection, user_id, task_id, changes.changes())


def toggle_task(connection: Connection, user_id: uuid.UUID, /, *, task_id: int) -> TaskRow:
    """Flip `completed` in one statement, so concurrent toggles never lose a flip."""
    return _change(connection, user_id, task_id, {"completed": not_(_columns.completed)})


def delete_task(connection: Connection, user_id: uuid.UUID, /, *, task_id: int) -> None:
    if not 1 <= task_id <= MAX_TASK_ID:
        raise NotFound(TASK_NOT_FOUND)
    statement = (
        delete(_tasks)
        .where(_columns.id == task_id, _columns.user_id == user_id)
        .returning(_columns.id)
    )
    if connection.execute(statement).first() is None:
        raise NotFound(TASK_NOT_FOUND)


_STATS = select(func.count(), func.count().filter(_columns.completed == true())).where(
    _columns.user_id == bindparam("user_id")
)


def task_stats(connection: Connection, user_id: uuid.UUID, /) -> TaskStats:
    total, completed = connection.execute(_STATS, {"user_id": user_id}).one()
    return TaskStats(total=total, completed=completed, pending=total - completed)
