"""Tasks: listing, paging, reading and changing a user's own tasks.

Every query is narrowed to the owner first (`_owned`, `_matching`), so no caller can forget whose
tasks it is looking at.
"""

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, delete, func, literal, not_, or_, true, tuple_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.database import unicode_lower
from app.errors import FieldError, InvalidInput, NotFound
from models.task import Task, TaskCreate, TaskFilter, TaskStats, TaskUpdate
from models.types import UTCDateTime, utcnow

TASK_NOT_FOUND = "Task not found"
MAX_PAGE_SIZE = 500
MAX_TASK_ID = 2**31 - 1  # the `tasks.id` column is a 32-bit integer, like GraphQL's Int

# The contract's listing order: incomplete first, then newest first, then highest id first.
LISTING_ORDER = (col(Task.completed).asc(), col(Task.created_at).desc(), col(Task.id).desc())


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as listings read it: its columns, without the cost of an ORM object."""

    user_id: uuid.UUID
    id: int
    title: str
    description: str
    completed: bool
    created_at: datetime
    updated_at: datetime


_VIEW_COLUMNS = (
    col(Task.id),
    col(Task.title),
    col(Task.description),
    col(Task.completed),
    col(Task.created_at),
    col(Task.updated_at),
)


def _owned(user_id: uuid.UUID) -> SelectOfScalar[Task]:
    return select(Task).where(Task.user_id == user_id)


def _matching(user_id: uuid.UUID, task_filter: TaskFilter) -> list[ColumnElement[bool]]:
    """The conditions for the user's tasks that pass `task_filter`."""
    conditions = [col(Task.user_id) == user_id]
    if task_filter.completed is not None:
        conditions.append(col(Task.completed) == task_filter.completed)
    if task_filter.search:
        needle = task_filter.search.lower()
        conditions.append(
            or_(
                unicode_lower(col(Task.title)).contains(needle, autoescape=True),
                unicode_lower(col(Task.description)).contains(needle, autoescape=True),
            )
        )
    return conditions


def _views(
    session: Session,
    user_id: uuid.UUID,
    conditions: list[ColumnElement[bool]],
    limit: int,
    offset: int = 0,
) -> list[TaskView]:
    """Matching tasks in the listing order. Every row is the user's (the conditions say so), so
    `user_id` is not read back."""
    statement = (
        sa_select(*_VIEW_COLUMNS)
        .where(*conditions)
        .order_by(*LISTING_ORDER)
        .limit(limit)
        .offset(offset)
    )
    return [TaskView(user_id, *row) for row in session.execute(statement)]


def count_tasks(*, session: Session, user_id: uuid.UUID, task_filter: TaskFilter) -> int:
    statement = select(func.count()).select_from(Task).where(*_matching(user_id, task_filter))
    return session.exec(statement).one()


@dataclass(frozen=True)
class TaskList:
    tasks: list[TaskView]
    total: int  # matching the filter, before limit and offset


def list_tasks(
    *, session: Session, user_id: uuid.UUID, task_filter: TaskFilter, limit: int, offset: int
) -> TaskList:
    """One page by offset, in the listing order, with the count of all that match."""
    conditions = _matching(user_id, task_filter)
    return TaskList(
        tasks=_views(session, user_id, conditions, limit, offset),
        total=count_tasks(session=session, user_id=user_id, task_filter=task_filter),
    )


@dataclass(frozen=True)
class TaskPage:
    tasks: list[TaskView]
    has_next_page: bool
    cursors: list[str]


def page_tasks(
    *,
    session: Session,
    user_id: uuid.UUID,
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
    conditions = _matching(user_id, task_filter)
    wanted = first + 1  # one more than the page tells whether another page follows
    if after is None:
        rows = _views(session, user_id, conditions, wanted)
    else:
        position = decode_cursor(after, user_id, cursor_key)
        below = tuple_(col(Task.created_at), col(Task.id)) < tuple_(
            literal(position.created_at, UTCDateTime()), literal(position.id)
        )
        same_state = col(Task.completed) == position.completed
        rows = _views(session, user_id, [*conditions, same_state, below], wanted)
        if len(rows) < wanted and not position.completed:
            completed = col(Task.completed) == true()
            rows += _views(session, user_id, [*conditions, completed], wanted - len(rows))
    tasks = rows[:first]
    return TaskPage(
        tasks=tasks,
        has_next_page=len(rows) > first,
        cursors=[encode_cursor(task, user_id, cursor_key) for task in tasks],
    )


@dataclass(frozen=True)
class _Position:
    completed: bool
    created_at: datetime
    id: int


def _sign(payload: bytes, user_id: uuid.UUID, key: str) -> bytes:
    message = user_id.bytes + payload
    return hmac.new(key.encode(), message, hashlib.sha256).digest()[:16]


def encode_cursor(task: Task | TaskView, user_id: uuid.UUID, key: str) -> str:
    """An opaque cursor, signed for this user: it cannot be forged or used on another's list."""
    payload = orjson.dumps([task.completed, task.created_at.isoformat(), task.id])
    return base64.urlsafe_b64encode(_sign(payload, user_id, key) + payload).decode().rstrip("=")


def decode_cursor(cursor: str, user_id: uuid.UUID, key: str) -> _Position:
    invalid = InvalidInput("Invalid cursor", [FieldError("after", "is not a valid cursor")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, payload = raw[:16], raw[16:]
        if not hmac.compare_digest(signature, _sign(payload, user_id, key)):
            raise invalid
        completed, created_at, task_id = orjson.loads(payload)
        return _Position(bool(completed), datetime.fromisoformat(created_at), int(task_id))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise invalid from None


def find_task(*, session: Session, user_id: uuid.UUID, task_id: int) -> Task | None:
    """The task, if it exists and belongs to the user; `None` otherwise (the two look alike)."""
    if not 1 <= task_id <= MAX_TASK_ID:
        return None
    return session.exec(_owned(user_id).where(Task.id == task_id)).first()


def get_task(*, session: Session, user_id: uuid.UUID, task_id: int) -> Task:
    task = find_task(session=session, user_id=user_id, task_id=task_id)
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return task


def create_task(*, session: Session, user_id: uuid.UUID, data: TaskCreate) -> Task:
    task = Task(user_id=user_id, title=data.title, description=data.description or "")
    session.add(task)
    session.commit()
    return task


def update_task(*, session: Session, user_id: uuid.UUID, task_id: int, changes: TaskUpdate) -> Task:
    task = get_task(session=session, user_id=user_id, task_id=task_id)
    for name, value in changes.changes().items():
        setattr(task, name, value)
    task.updated_at = utcnow()
    session.add(task)
    session.commit()
    return task


def toggle_task(*, session: Session, user_id: uuid.UUID, task_id: int) -> Task:
    """Flip `completed` in one statement, so concurrent toggles never lose a flip."""
    if not 1 <= task_id <= MAX_TASK_ID:
        raise NotFound(TASK_NOT_FOUND)
    statement = (
        update(Task)
        .where(col(Task.id) == task_id, col(Task.user_id) == user_id)
        .values(completed=not_(col(Task.completed)), updated_at=utcnow())
        .returning(Task)
        .execution_options(synchronize_session=False)
    )
    task = session.exec(statement).scalars().first()
    if task is None:
        session.rollback()
        raise NotFound(TASK_NOT_FOUND)
    session.commit()
    return task  # type: ignore[no-any-return]


def delete_task(*, session: Session, user_id: uuid.UUID, task_id: int) -> None:
    if not 1 <= task_id <= MAX_TASK_ID:
        raise NotFound(TASK_NOT_FOUND)
    statement = delete(Task).where(col(Task.id) == task_id, col(Task.user_id) == user_id)
    if session.exec(statement).rowcount != 1:
        session.rollback()
        raise NotFound(TASK_NOT_FOUND)
    session.commit()


def task_stats(*, session: Session, user_id: uuid.UUID) -> TaskStats:
    completed_count = func.count().filter(col(Task.completed) == true())
    total, completed = session.exec(
        select(func.count(), completed_count).where(Task.user_id == user_id)
    ).one()
    return TaskStats(total=total, completed=completed, pending=total - completed)
