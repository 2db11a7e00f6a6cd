"""The task table's rules, written once for every service: its columns and the shapes of the
rows the doors answer, which rows are the viewer's and whether they are live or in the trash, and
the answer when a task is not there.

"Not there" is answered after the statement that found nothing, never before: a viewer whose
session has ended is told 401 (`require_session`), anyone else 404. A write that finds its task
pays no extra round trip for it.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam

from app.errors import NotFound
from app.security import TokenClaims
from app.services.sessions import require_session
from app.statements import Runner
from models.tables import table
from models.task import TASK_FIELDS, Task

TASK_NOT_FOUND = "Task not found"
MAX_TASK_ID = 2**31 - 1  # the `tasks.id` column is a 32-bit integer, like GraphQL's Int

TaskRow = dict[str, Any]  # a task as its owner sees it: the fields of `TaskBase` by name

TASKS = table(Task)
COLUMNS = TASKS.c
PUBLIC_COLUMNS = tuple(COLUMNS[name] for name in TASK_FIELDS)
TRASH_COLUMNS = (*PUBLIC_COLUMNS, COLUMNS.deleted_at)
TRASH_FIELDS = (*TASK_FIELDS, "deleted_at")

OWNED = COLUMNS.user_id == bindparam("user_id")  # the viewer's tasks: `:user_id`
THIS_TASK = COLUMNS.id == bindparam("task_id")  # one of them: `:task_id`
LIVE = COLUMNS.deleted_at.is_(None)
TRASHED = COLUMNS.deleted_at.is_not(None)


def row_of(fields: Sequence[str], values: Sequence[Any]) -> TaskRow:
    """A row of a statement that selects the columns of `fields`, by name. The columns are built
    from the names, so there is one value per name: no `strict=True`, whose check cost a fifth
    of each row's dict, 50 times a page."""
    return dict(zip(fields, values))  # noqa: B905


def task_row(values: Sequence[Any]) -> TaskRow:
    return row_of(TASK_FIELDS, values)


def trashed_row(values: Sequence[Any]) -> TaskRow:
    return row_of(TRASH_FIELDS, values)


def possible_task_id(task_id: int) -> bool:
    """Whether `task_id` can name a task at all; any other id is "not found" without a query."""
    return 1 <= task_id <= MAX_TASK_ID


def task_not_found(runner: Runner, viewer: TokenClaims) -> NotFound:
    """The answer to a task that is not the viewer's, not there or not in the state asked for,
    to raise: `NotFound` (404), once `require_session` has raised `AuthError` (401) if their
    session has ended."""
    require_session(runner, viewer)
    return NotFound(TASK_NOT_FOUND)
