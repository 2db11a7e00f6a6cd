"""Tasks: listing, paging, reading and changing a user's own tasks.

Every statement is narrowed to the owner (`_conditions` starts with it), so no caller can forget
whose tasks it is looking at. Each service is one statement (a read, or an INSERT/UPDATE/DELETE
that is atomic by itself), so the doors run them with `Database.read`: no transaction round trips.

The doors pass the user id of a verified access token. Each service refuses a user who no longer
exists (401), in the same statement where it can: the count carries `user_exists()`, and the
INSERT inserts only while the user exists. The others ask (`require_user`) only when they found
nothing, to tell "no such task" (404) from "no such user".

Statements are built once (per shape of filter or of change) with bound parameters, and reused:
building a SQLAlchemy statement costs more than running it, and `Runner` compiles each once. Tasks
come back as rows (`TaskRow`: the public fields by name), never as ORM objects.
"""

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Update,
    bindparam,
    delete,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    tuple_,
    update,
)

from app.engine import unicode_lower
from app.errors import AuthError, FieldError, InvalidInput, NotFound
from app.services.accounts import USER_GONE, require_user, user_exists
from app.services.cursors import decode_cursor, encode_cursor
from app.statements import AnySelect, Runner
from models.task import TASK_FIELDS, Task, TaskCreate, TaskFilter, TaskStats, TaskUpdate
from models.utc import UTCDateTime, utcnow

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


def _rows(runner: Runner, statement: AnySelect, values: dict[str, Any]) -> list[TaskRow]:
    return [_row(found) for found in runner.all(statement, values)]


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
def _count_statement(*, completed: bool, search: bool) -> AnySelect:
    """The count, and whether the user still exists."""
    return (
        select(func.count(), user_exists())
        .select_from(_tasks)
        .where(*_conditions(completed=completed, search=search))
    )


@cache
def _page_statement(
    *, completed: bool, search: bool, state: bool = False, below: bool = False
) -> AnySelect:
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


def count_tasks(runner: Runner, user_id: uuid.UUID, /, *, task_filter: TaskFilter) -> int:
    return _count(runner, _Filter.of(user_id, task_filter))


def _count(runner: Runner, where: _Filter) -> int:
    found = runner.first(_count_statement(**where.shape), where.values)
    assert found is not None  # an aggregate always answers a row
    total, alive = found
    if not alive:
        raise AuthError(USER_GONE)
    return int(total)


@dataclass(frozen=True)
class TaskList:
    tasks: list[TaskRow]
    total: int  # matching the filter, before limit and offset


def list_tasks(
    runner: Runner,
    user_id: uuid.UUID,
    /,
    *,
    task_filter: TaskFilter,
    limit: int,
    offset: int,
) -> TaskList:
    """One page by offset, in the listing order, with the count of all that match."""
    where = _Filter.of(user_id, task_filter)
    total = _count(runner, where)
    values = {**where.values, "limit": limit, "offset": offset}
    return TaskList(tasks=_rows(runner, _page_statement(**where.shape), values), total=total)


@dataclass(frozen=True)
class TaskPage:
    tasks: list[TaskRow]
    has_next_page: bool
    user_id: uuid.UUID
    cursor_key: str

    def cursor(self, task: TaskRow) -> str:
        """The opaque cursor just after `task`: signed, so made only for those asked for."""
        return encode_cursor(task, self.user_id, self.cursor_key)


def page_tasks(
    runner: Runner,
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
        rows = _rows(runner, _page_statement(**where.shape), values)
    else:
        position = decode_cursor(after, user_id, cursor_key)
        keyset = {
            "state": position.completed,
            "after_created_at": position.created_at,
            "after_id": position.id,
        }
        below = _page_statement(**where.shape, state=True, below=True)
        rows = _rows(runner, below, {**values, **keyset})
        if len(rows) < wanted and not position.completed:
            rest = {**values, "state": True, "limit": wanted - len(rows)}
            rows += _rows(runner, _page_statement(**where.shape, state=True), rest)
    if not rows:
        require_user(runner, user_id)
    tasks = rows[:first]
    return TaskPage(
        tasks=tasks, has_next_page=len(rows) > first, user_id=user_id, cursor_key=cursor_key
    )


_GET = select(*_PUBLIC_COLUMNS).where(
    _columns.id == bindparam("task_id"), _columns.user_id == bindparam("user_id")
)


def find_task(runner: Runner, user_id: uuid.UUID, /, *, task_id: int) -> TaskRow | None:
    """The task, if it exists and belongs to the user; `None` otherwise (the two look alike)."""
    found = None
    if 1 <= task_id <= MAX_TASK_ID:
        found = runner.first(_GET, {"task_id": task_id, "user_id": user_id})
    if found is None:
        require_user(runner, user_id)
        return None
    return _row(found)


def get_task(runner: Runner, user_id: uuid.UUID, /, *, task_id: int) -> TaskRow:
    task = find_task(runner, user_id, task_id=task_id)
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return task


# INSERT ... SELECT, so that nothing is inserted for a user who no longer exists.
_now = bindparam("now", type_=_columns.created_at.type)
_CREATE = (
    insert(_tasks)
    .from_select(
        ["user_id", "title", "description", "completed", "created_at", "updated_at"],
        select(
            bindparam("user_id", type_=_columns.user_id.type),
            bindparam("title", type_=_columns.title.type),
            bindparam("description", type_=_columns.description.type),
            false(),
            _now,
            _now,
        ).where(user_exists()),
    )
    .returning(*_PUBLIC_COLUMNS)
)


def create_task(runner: Runner, user_id: uuid.UUID, /, *, data: TaskCreate) -> TaskRow:
    values = {
        "user_id": user_id,
        "title": data.title,
        "description": data.description or "",
        "now": utcnow(),
    }
    created = runner.first(_CREATE, values)
    if created is None:
        raise AuthError(USER_GONE)
    return _row(created)


def _owned(statement: Update) -> Update:
    """`statement` narrowed to the user's task `:task_id`, stamped, answering the task after it."""
    return (
        statement.where(
            _columns.id == bindparam("task_id"), _columns.user_id == bindparam("user_id")
        )
        .values(updated_at=_now)
        .returning(*_PUBLIC_COLUMNS)
    )


@cache
def _update_statement(fields: frozenset[str]) -> Update:
    """An UPDATE of the fields a change names (one statement per set of fields)."""
    return _owned(update(_tasks).values({name: bindparam(name) for name in sorted(fields)}))


# Flipped in one statement, so concurrent toggles never lose a flip.
_TOGGLE = _owned(update(_tasks).values(completed=not_(_columns.completed)))


def _change(
    runner: Runner, user_id: uuid.UUID, task_id: int, statement: Update, values: dict[str, Any]
) -> TaskRow:
    changed = None
    if 1 <= task_id <= MAX_TASK_ID:
        keys = {"task_id": task_id, "user_id": user_id, "now": utcnow()}
        changed = runner.first(statement, {**values, **keys})
    if changed is None:
        require_user(runner, user_id)
        raise NotFound(TASK_NOT_FOUND)
    return _row(changed)


def update_task(
    runner: Runner, user_id: uuid.UUID, /, *, task_id: int, changes: TaskUpdate
) -> TaskRow:
    values = changes.changes()
    return _change(runner, user_id, task_id, _update_statement(frozenset(values)), values)


def toggle_task(runner: Runner, user_id: uuid.UUID, /, *, task_id: int) -> TaskRow:
    return _change(runner, user_id, task_id, _TOGGLE, {})


_DELETE = (
    delete(_tasks)
    .where(_columns.id == bindparam("task_id"), _columns.user_id == bindparam("user_id"))
    .returning(_columns.id)
)


def delete_task(runner: Runner, user_id: uuid.UUID, /, *, task_id: int) -> None:
    deleted = None
    if 1 <= task_id <= MAX_TASK_ID:
        deleted = runner.first(_DELETE, {"task_id": task_id, "user_id": user_id})
    if deleted is None:
        require_user(runner, user_id)
        raise NotFound(TASK_NOT_FOUND)


_STATS = select(
    func.count(), func.count().filter(_columns.completed == true()), user_exists()
).where(_columns.user_id == bindparam("user_id"))


def task_stats(runner: Runner, user_id: uuid.UUID, /) -> TaskStats:
    found = runner.first(_STATS, {"user_id": user_id})
    assert found is not None  # an aggregate always answers a row
    total, completed, alive = found
    if not alive:
        raise AuthError(USER_GONE)
    return TaskStats(total=total, completed=completed, pending=total - completed)
