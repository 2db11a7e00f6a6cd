"""Tasks: reading and changing a user's own tasks, the trash included (listing them:
`app.services.listing`; which rows are the viewer's: `app.services.task_table`).

A change is one statement (an INSERT, or an UPDATE ... RETURNING, atomic by itself), except where
tags are written too: then the statements run in one transaction. A service refuses a session
that has ended (401) in the same statement where it can (the INSERT inserts only while the session
is live); the others ask only when they found nothing (`task_not_found`).

Versions: every change adds one to the task's `version`, in the statement that makes it. A write
may name the versions it expects (`expected`, from `If-Match` or `expectedVersion`): the UPDATE
then also requires one of them, so of two writers that read the same version exactly one wins;
the other gets `VersionMismatch` with the current version, and nothing changes.

Every write announces its live event in its own statement (`announce`, `app.events`): exactly
one event per committed write, none for one refused or rolled back. Statements are built once
with bound parameters (building one costs more than running it); tasks come back as rows.
"""

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    Update,
    bindparam,
    delete,
    false,
    insert,
    not_,
    select,
    update,
)

from app.errors import AuthError, NotFound, VersionMismatch
from app.events import TaskEventKind, announce
from app.security import TokenClaims
from app.services import tags
from app.services.sessions import SESSION_ENDED, caller, require_session, session_live
from app.services.task_table import (
    COLUMNS,
    LIVE,
    OWNED,
    PUBLIC_COLUMNS,
    TASK_NOT_FOUND,
    TASKS,
    THIS_TASK,
    TRASH_COLUMNS,
    TRASHED,
    TaskRow,
    possible_task_id,
    task_not_found,
    task_row,
    trashed_row,
)
from app.statements import Runner
from models.task import TaskCreate, TaskUpdate
from models.text import title_key
from models.utc import utcnow

MAX_EXPECTED_VERSIONS = 8

_now = bindparam("now", type_=COLUMNS.created_at.type)
_mine = (THIS_TASK, OWNED)


def announced(kind: TaskEventKind) -> announce:
    """The event of the task row a statement wrote, at its `updated_at` (a purge: `:now`)."""
    at = _now if kind is TaskEventKind.PURGED else COLUMNS.updated_at
    return announce(kind, COLUMNS.user_id, COLUMNS.id, COLUMNS.version, at)


_GET = select(*PUBLIC_COLUMNS).where(*_mine, LIVE)


def find_task(runner: Runner, viewer: TokenClaims, /, *, task_id: int) -> TaskRow | None:
    """The live task, if it exists and belongs to the user; `None` otherwise (alike)."""
    found = None
    if possible_task_id(task_id):
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
        raise NotFound(TASK_NOT_FOUND)  # `find_task` asked about the session already
    return task


def _bound(name: str) -> Any:
    return bindparam(name, type_=COLUMNS[name].type)


# INSERT ... SELECT, so that nothing is inserted for a user who no longer exists.
_CREATED = ("title", "title_key", "description", "priority", "due_at", "tags")
_CREATE = (
    insert(TASKS)
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
        "title_key": title_key(data.title),
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
    conditions = [*_mine, TRASHED if trash else LIVE]
    kind = TaskEventKind.UPDATED
    if trash:
        kind = TaskEventKind.RESTORED
    elif "deleted_at" in fields:
        kind = TaskEventKind.DELETED
    if expected:
        versions = [bindparam(f"expected_{i}", type_=Integer()) for i in range(expected)]
        conditions.append(COLUMNS.version.in_(versions))
    return (
        update(TASKS)
        .where(*conditions)
        .values({name: _bound(name) for name in sorted(fields)})
        .values(version=COLUMNS.version + 1, updated_at=_now)
        .returning(*PUBLIC_COLUMNS, announced(kind))
    )


# Flipped in the statement, so concurrent toggles never lose a flip.
_TOGGLE = {"completed": not_(COLUMNS.completed)}
_VERSION = select(COLUMNS.version).where(*_mine, LIVE)


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
    if possible_task_id(task_id):
        changed = runner.first(statement, {**values, **keys})
    if changed is not None:
        return task_row(changed)
    if expected and possible_task_id(task_id):
        current = runner.scalar(_VERSION, keys)
        if current is not None:
            raise VersionMismatch(current)
    raise task_not_found(runner, viewer)


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
        values["title_key"] = title_key(values["title"])
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


_RESTORE = change_statement(frozenset({"deleted_at"}), 0, trash=True)


def restore_task(runner: Runner, viewer: TokenClaims, /, *, task_id: int) -> TaskRow:
    """Back from the trash among the live tasks, with its tags, one version more."""
    restored = None
    if possible_task_id(task_id):
        values = {
            "user_id": viewer.user_id,
            "task_id": task_id,
            "deleted_at": None,
            "now": utcnow(),
        }
        restored = runner.first(_RESTORE, values)
    if restored is None:
        raise task_not_found(runner, viewer)
    return task_row(restored)


PURGED = announced(TaskEventKind.PURGED)
_PURGE = delete(TASKS).where(*_mine, TRASHED).returning(COLUMNS.id, PURGED)
_EMPTY = delete(TASKS).where(OWNED, TRASHED).returning(COLUMNS.id, PURGED)


def purge_task(runner: Runner, viewer: TokenClaims, /, *, task_id: int) -> None:
    """Delete the trashed task for good (its tag links go with it)."""
    purged = None
    if possible_task_id(task_id):
        values = {"user_id": viewer.user_id, "task_id": task_id, "now": utcnow()}
        purged = runner.first(_PURGE, values)
    if purged is None:
        raise task_not_found(runner, viewer)


def empty_trash(runner: Runner, viewer: TokenClaims, /) -> int:
    """Delete every trashed task of the user for good; how many there were."""
    purged = runner.all(_EMPTY, {**caller(viewer), "now": utcnow()})
    if not purged:
        require_session(runner, viewer)
    return len(purged)
