"""Tasks: reading and changing a user's own tasks; listing them (`app.services.listing`).

Every statement is narrowed to the owner, so no caller can forget whose tasks it is looking at.
A change is one statement (an INSERT, or an UPDATE ... RETURNING that is atomic by itself), except
where tags are written too: then the statements run in one transaction.

The doors pass the claims of a verified access token. Each service refuses a session that has
ended (401), in the same statement where it can: the count carries `session_live()`, and the
INSERT inserts only while the session is live. The others ask (`require_session`) only when they
found nothing, to tell "no such task" (404) from "no such session".

Versions: every change adds one to the task's `version`, in the statement that makes it. A write
may name the versions it expects (`expected`, from `If-Match` or `expectedVersion`): the UPDATE
then also requires one of them, so of two writers that read the same version exactly one wins;
the other gets `VersionMismatch` with the current version, and nothing changes.

Every write announces its live event in its own statement (`announce`, `app.events`): exactly
one event per committed write, none for one refused or rolled back.

Statements are built once (per shape of filter or of change) with bound parameters, and reused:
building a SQLAlchemy statement costs more than running it, and `Runner` compiles each once. Tasks
come back as rows (`TaskRow`: the public fields by name), never as ORM objects.
"""

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, Update, bindparam, false, func, insert, not_, select, true, update

from app.errors import AuthError, NotFound, VersionMismatch
from app.events import TaskEventKind, announce
from app.security import TokenClaims
from app.services import tags
from app.services.listing import (
    PUBLIC_COLUMNS,
    TRASH_COLUMNS,
    TaskList,
    TaskPage,
    TaskRow,
    Where,
    count,
    list_by_offset,
    order_of,
    page_by_key,
    task_row,
    trashed_row,
)
from app.services.sessions import SESSION_ENDED, caller, require_session, session_live
from app.statements import Runner
from models.task import Sort, Task, TaskCreate, TaskFilter, TaskStats, TaskUpdate
from models.utc import utcnow

TASK_NOT_FOUND = "Task not found"
MAX_TASK_ID = 2**31 - 1  # the `tasks.id` column is a 32-bit integer, like GraphQL's Int
MAX_EXPECTED_VERSIONS = 8

_tasks = Task.metadata.tables[Task.__tablename__]
_columns = _tasks.c
_now = bindparam("now", type_=_columns.created_at.type)
_mine = (_columns.id == bindparam("task_id"), _columns.user_id == bindparam("user_id"))
_live = _columns.deleted_at.is_(None)


def storable_id(task_id: int) -> bool:
    """Whether `task_id` can name a task at all; any other id is "not found" without a query."""
    return 1 <= task_id <= MAX_TASK_ID


def announced(kind: TaskEventKind) -> announce:
    """The event of the task row a statement wrote, at its `updated_at` (a purge: `:now`)."""
    at = _now if kind is TaskEventKind.PURGED else _columns.updated_at
    return announce(kind, _columns.user_id, _columns.id, _columns.version, at)


def count_tasks(runner: Runner, viewer: TokenClaims, /, *, task_filter: TaskFilter) -> int:
    return count(runner, Where.of(viewer, task_filter))


def list_tasks(
    runner: Runner,
    viewer: TokenClaims,
    /,
    *,
    task_filter: TaskFilter,
    sort: Sort | None = None,
    limit: int,
    offset: int,
) -> TaskList:
    """One page by offset, in the listing order, with the count of all that match."""
    where = Where.of(viewer, task_filter)
    return list_by_offset(runner, where, order_of(sort), limit=limit, offset=offset)


def page_tasks(
    runner: Runner,
    viewer: TokenClaims,
    /,
    *,
    task_filter: TaskFilter,
    sort: Sort | None = None,
    first: int,
    after: str | None,
    cursor_key: str,
) -> TaskPage:
    """One page by key: a deep page costs what the first one costs. A cursor continues only the
    order and filter it was made for."""
    where = Where.of(viewer, task_filter)
    order = order_of(sort)
    return page_by_key(
        runner, viewer, where, order, first=first, after=after, cursor_key=cursor_key
    )


_GET = select(*PUBLIC_COLUMNS).where(*_mine, _live)


def find_task(runner: Runner, viewer: TokenClaims, /, *, task_id: int) -> TaskRow | None:
    """The live task, if it exists and belongs to the user; `None` otherwise (alike)."""
    found = None
    if storable_id(task_id):
        found = runner.first(_GET, {"task_id": task_id, "user_id": viewer.user_id})
    if found is None:
        require_session(runner, viewer)
        return None
    return task_row(found)


_GET_ANY = select(*TRASH_COLUMNS).where(*_mine)


def find_task_in_any_state(
    runner: Runner, viewer: TokenClaims, /, *, task_id: int
) -> TaskRow | None:
    """The user's task, live or in the trash (then with `deleted_at`); `None` once purged or
    if it is not theirs (the read behind a live event)."""
    found = runner.first(_GET_ANY, {"task_id": task_id, "user_id": viewer.user_id})
    if found is None:
        require_session(runner, viewer)
        return None
    return trashed_row(found)


def get_task(runner: Runner, viewer: TokenClaims, /, *, task_id: int) -> TaskRow:
    task = find_task(runner, viewer, task_id=task_id)
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return task


def _bound(name: str) -> Any:
    return bindparam(name, type_=_columns[name].type)


# INSERT ... SELECT, so that nothing is inserted for a user who no longer exists.
_CREATED = ("title", "title_key", "description", "priority", "due_at", "tags")
_CREATE = (
    insert(_tasks)
    .from_select(
        ["user_id", *_CREATED, "completed", "version", "created_at", "updated_at"],
        select(_bound("user_id"), *map(_bound, _CREATED), false(), 1, _now, _now).where(
            session_live()
        ),
    )
    .returning(*PUBLIC_COLUMNS, announced(TaskEventKind.CREATED))
)


def create_task(runner: Runner, viewer: TokenClaims, /, *, data: TaskCreate) -> TaskRow:
    values = {
        **caller(viewer),
        "title": data.title,
        "title_key": data.title.casefold(),
        "description": data.description or "",
        "priority": data.priority,
        "due_at": data.due_at,
        "tags": [],
        "now": utcnow(),
    }
    if not data.tags:
        return _inserted(runner.first(_CREATE, values))
    with runner.transaction():
        values["tags"] = tags.resolve(runner, viewer.user_id, data.tags)
        created = _inserted(runner.first(_CREATE, values))
        tags.attach(runner, viewer.user_id, created["id"], data.tags)
        return created


def _inserted(found: Any) -> TaskRow:
    if found is None:
        raise AuthError(SESSION_ENDED)
    return task_row(found)


@cache
def change_statement(fields: frozenset[str], expected: int, *, trash: bool = False) -> Update:
    """An UPDATE of the user's task `:task_id` (live, or in the trash), setting `fields` from
    their parameters, one more version and the time; with `expected` versions to match."""
    conditions = [*_mine, _columns.deleted_at.is_not(None) if trash else _live]
    kind = TaskEventKind.UPDATED
    if trash:
        kind = TaskEventKind.RESTORED
    elif "deleted_at" in fields:
        kind = TaskEventKind.DELETED
    if expected:
        versions = [bindparam(f"expected_{i}", type_=Integer()) for i in range(expected)]
        conditions.append(_columns.version.in_(versions))
    return (
        update(_tasks)
        .where(*conditions)
        .values({name: _bound(name) for name in sorted(fields)})
        .values(version=_columns.version + 1, updated_at=_now)
        .returning(*PUBLIC_COLUMNS, announced(kind))
    )


# Flipped in the statement, so concurrent toggles never lose a flip.
_TOGGLE = {"completed": not_(_columns.completed)}
_VERSION = select(_columns.version).where(*_mine, _live)


def _change(
    runner: Runner,
    viewer: TokenClaims,
    task_id: int,
    values: dict[str, Any],
    expected: Collection[int] | None,
    *,
    flip: bool = False,
    now: datetime | None = None,
) -> TaskRow:
    """Apply `values` (or flip `completed`) to the user's live task at `now` (default: now);
    `NotFound` when it is not there, `VersionMismatch` when it is at another version than one of
    `expected`."""
    if expected is not None and not expected:
        expected = [0]  # no task has version 0: the write matches none
    expected = sorted(expected or ())[:MAX_EXPECTED_VERSIONS]
    if flip:
        statement = _toggle_statement(len(expected))
    else:
        statement = change_statement(frozenset(values), len(expected))
    keys = {"task_id": task_id, "user_id": viewer.user_id, "now": now or utcnow()}
    keys |= {f"expected_{i}": version for i, version in enumerate(expected)}
    changed = None
    if storable_id(task_id):
        changed = runner.first(statement, {**values, **keys})
    if changed is not None:
        return task_row(changed)
    if expected and storable_id(task_id):
        current = runner.scalar(_VERSION, keys)
        if current is not None:
            raise VersionMismatch(current)
    require_session(runner, viewer)
    raise NotFound(TASK_NOT_FOUND)


@cache
def _toggle_statement(expected: int) -> Update:
    return change_statement(frozenset(), expected).values(_TOGGLE)


def update_task(
    runner: Runner,
    viewer: TokenClaims,
    /,
    *,
    task_id: int,
    changes: TaskUpdate,
    expected: Collection[int] | None = None,
) -> TaskRow:
    values = changes.changes()
    if "title" in values:
        values["title_key"] = values["title"].casefold()
    if "tags" not in values:
        return _change(runner, viewer, task_id, values, expected)
    with runner.transaction():
        names = values["tags"]
        values["tags"] = tags.resolve(runner, viewer.user_id, names)
        changed = _change(runner, viewer, task_id, values, expected)
        tags.attach(runner, viewer.user_id, task_id, names)
        return changed


def toggle_task(
    runner: Runner, viewer: TokenClaims, /, *, task_id: int, expected: Collection[int] | None = None
) -> TaskRow:
    return _change(runner, viewer, task_id, {}, expected, flip=True)


def delete_task(
    runner: Runner, viewer: TokenClaims, /, *, task_id: int, expected: Collection[int] | None = None
) -> TaskRow:
    """Move the task to the trash (its tags stay with it, for a restore)."""
    now = utcnow()
    return _change(runner, viewer, task_id, {"deleted_at": now}, expected, now=now)


_STATS = select(
    func.count(), func.count().filter(_columns.completed == true()), session_live()
).where(_columns.user_id == bindparam("user_id"), _live)


def task_stats(runner: Runner, viewer: TokenClaims, /) -> TaskStats:
    found = runner.first(_STATS, caller(viewer))
    assert found is not None  # an aggregate always answers a row
    total, completed, alive = found
    if not alive:
        raise AuthError(SESSION_ENDED)
    return TaskStats(total=total, completed=completed, pending=total - completed)
