"""The trash: tasks deleted through the API, kept `TRASH_RETENTION_DAYS` for a restore.

`tasks.delete_task` moves a task here (it sets `deleted_at`). From here a task goes back among the
live tasks (`restore_task`, one more version, its tags with it) or away for good (`purge_task`,
`empty_trash`, and `purge_expired` once its retention has passed).
"""

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete

from app.errors import NotFound
from app.events import TaskEventKind
from app.security import TokenClaims
from app.services.listing import (
    TRASH_ORDER,
    TaskList,
    TaskPage,
    TaskRow,
    Where,
    list_by_offset,
    page_by_key,
    task_row,
)
from app.services.sessions import caller, require_session
from app.services.tasks import TASK_NOT_FOUND, announced, change_statement, storable_id
from app.statements import Runner
from models.idempotency import IdempotencyKey
from models.task import Task, TaskFilter
from models.utc import UTCDateTime, utcnow

_tasks = Task.metadata.tables[Task.__tablename__]
_columns = _tasks.c
_keys = IdempotencyKey.metadata.tables[IdempotencyKey.__tablename__]
_trashed = _columns.deleted_at.is_not(None)
_cutoff = bindparam("cutoff", type_=UTCDateTime())


def list_trash(runner: Runner, viewer: TokenClaims, /, *, limit: int, offset: int) -> TaskList:
    """Most recently deleted first, with `deleted_at`."""
    where = Where.of(viewer, TaskFilter(), trash=True)
    return list_by_offset(runner, where, TRASH_ORDER, limit=limit, offset=offset)


def page_trash(
    runner: Runner, viewer: TokenClaims, /, *, first: int, after: str | None, cursor_key: str
) -> TaskPage:
    where = Where.of(viewer, TaskFilter(), trash=True)
    return page_by_key(
        runner, viewer, where, TRASH_ORDER, first=first, after=after, cursor_key=cursor_key
    )


_RESTORE = change_statement(frozenset({"deleted_at"}), 0, trash=True)


def restore_task(runner: Runner, viewer: TokenClaims, /, *, task_id: int) -> TaskRow:
    """Back among the live tasks, with its tags, one version more."""
    restored = None
    if storable_id(task_id):
        values = {
            "task_id": task_id,
            "user_id": viewer.user_id,
            "deleted_at": None,
            "now": utcnow(),
        }
        restored = runner.first(_RESTORE, values)
    if restored is None:
        require_session(runner, viewer)
        raise NotFound(TASK_NOT_FOUND)
    return task_row(restored)


_PURGED = announced(TaskEventKind.PURGED)
_PURGE = (
    delete(_tasks)
    .where(_columns.id == bindparam("task_id"), _columns.user_id == bindparam("user_id"), _trashed)
    .returning(_columns.id, _PURGED)
)
_EMPTY = (
    delete(_tasks)
    .where(_columns.user_id == bindparam("user_id"), _trashed)
    .returning(_columns.id, _PURGED)
)


def purge_task(runner: Runner, viewer: TokenClaims, /, *, task_id: int) -> None:
    """Delete the trashed task for good (its tag links go with it)."""
    purged = None
    if storable_id(task_id):
        values = {"task_id": task_id, "user_id": viewer.user_id, "now": utcnow()}
        purged = runner.first(_PURGE, values)
    if purged is None:
        require_session(runner, viewer)
        raise NotFound(TASK_NOT_FOUND)


def empty_trash(runner: Runner, viewer: TokenClaims, /) -> int:
    """Delete every trashed task of the user for good; how many there were."""
    purged = runner.all(_EMPTY, {**caller(viewer), "now": utcnow()})
    if not purged:
        require_session(runner, viewer)
    return len(purged)


_EXPIRED_TASKS = (
    delete(_tasks).where(_trashed, _columns.deleted_at < _cutoff).returning(_columns.id, _PURGED)
)
_EXPIRED_KEYS = delete(_keys).where(_keys.c.expires_at <= bindparam("now", type_=UTCDateTime()))


def purge_expired(runner: Runner, *, now: datetime, retention: timedelta) -> int:
    """Delete, for every user, the tasks trashed longer than `retention` before `now`, and the
    idempotency keys expired by `now`; how many tasks went. Safe to run anywhere at any time:
    two runs at once delete each row once."""
    purged = runner.all(_EXPIRED_TASKS, {"cutoff": now - retention, "now": now})
    runner.all(_EXPIRED_KEYS, {"now": now})
    return len(purged)
