"""What a listing of tasks selects: the viewer's live tasks (or trashed ones) narrowed by a
`TaskFilter`, as a statement shape (`Shape`) and the values bound into it (`Where`); the
count of all that match, and the viewer's task stats.

Statements are built once per shape (which filters are present, how many tags) with bound
parameters, and reused while the shape is in use: the most recent `SHAPES_KEPT` are kept (a
client may name a new shape on every request; 5,040 filter shapes exist).
"""

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from app.prepared import AnySelect
from app.security import TokenClaims
from app.services.sessions import caller, require_live, session_live
from app.services.task_table import COLUMNS, LIVE, OWNED, TASKS, TRASHED
from app.statements import Runner
from app.unicode_lower import unicode_lower
from models.tables import table
from models.tag import Tag, TaskTag
from models.task import Priority, PriorityRank, TaskFilter, TaskStats
from models.text import tag_key
from models.utc import UTCDateTime, utcnow

_tags = table(Tag)
_task_tags = table(TaskTag)
SHAPES_KEPT = 128  # per statement cache of a listing, beyond a front end's working set


@dataclass(frozen=True)
class Shape:
    """Which filters a listing has: the statement's shape (its values are bound later)."""

    trash: bool = False
    completed: bool = False
    search: bool = False
    priorities: int = 0
    tags: int = 0
    due_before: bool = False
    due_after: bool = False
    overdue: bool | None = None


def _carries(index: int) -> ColumnElement[bool]:
    """The task carries the user's tag of key `:tag_<index>`: asked of each task read.

    The `OFFSET 0` keeps PostgreSQL from turning the test into a join. As a join it is planned
    with a tag's average share of the whole table (it cannot know which tag a key names, nor that
    a user's tag is on that user's tasks only), which is no estimate of this user's tag. A tag on
    most of a user's tasks looked rare; once other users' tasks outnumbered the user's, pages and
    counts read the whole table along its primary key, every user's tasks, for one user's page.
    Asked per task, a page reads the user's own index in its order and stops when it is full
    (tests/test_listing_plans.py). The price: a page or a count of a rare tag reads all of the
    user's live tasks, about 20 ms for 10,000 (a page did so as a join too; a count could be
    quicker as one: 4 ms, when the join's plan happened to suit).
    """
    return (
        select(_task_tags.c.task_id)
        .where(
            _task_tags.c.task_id == COLUMNS.id,
            _task_tags.c.tag_id == _tags.c.id,
            _tags.c.user_id == bindparam("user_id"),
            _tags.c.key == bindparam(f"tag_{index}", type_=String()),
        )
        .offset(0)
        .exists()
    )


def filter_conditions(shape: Shape) -> list[ColumnElement[bool]]:
    """The owner's live tasks (or trashed ones), narrowed by the filters of `shape`."""
    conditions = [OWNED, TRASHED if shape.trash else LIVE]
    if shape.completed:
        conditions.append(COLUMNS.completed == bindparam("completed"))
    if shape.search:
        needle = bindparam("needle", type_=String())
        conditions.append(
            or_(
                unicode_lower(COLUMNS.title).like(needle, escape="/"),
                unicode_lower(COLUMNS.description).like(needle, escape="/"),
            )
        )
    if shape.priorities:
        ranks = [bindparam(f"priority_{i}", type_=PriorityRank()) for i in range(shape.priorities)]
        conditions.append(COLUMNS.priority.in_(ranks))
    conditions += [_carries(index) for index in range(shape.tags)]
    if shape.due_before:
        conditions.append(COLUMNS.due_at < bindparam("due_before", type_=UTCDateTime()))
    if shape.due_after:
        conditions.append(COLUMNS.due_at >= bindparam("due_after", type_=UTCDateTime()))
    if shape.overdue is not None:
        now = bindparam("now", type_=UTCDateTime())
        # Never NULL (a task without a due date is not overdue), so NOT gives the rest.
        overdue = and_(
            COLUMNS.completed == false(), COLUMNS.due_at.is_not(None), COLUMNS.due_at < now
        )
        conditions.append(overdue if shape.overdue else not_(overdue))
    return conditions


_PRIORITY_ORDER = list(Priority)


def _like_pattern(text: str) -> str:
    """`text` anywhere, lower-cased, with `%`, `_` and the escape character matched literally."""
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Where:
    """A `TaskFilter` of one user as a statement shape and the values to bind into it."""

    shape: Shape
    values: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        """Names the filter in cursors: its shape and values (the user signs the cursor)."""
        skip = {"user_id", "session_id", "now"}
        values = sorted((k, str(v)) for k, v in self.values.items() if k not in skip)
        return hashlib.sha256(repr((self.shape, values)).encode()).hexdigest()[:16]

    @classmethod
    def of(cls, viewer: TokenClaims, task_filter: TaskFilter, *, trash: bool = False) -> "Where":
        values: dict[str, Any] = caller(viewer)
        if task_filter.completed is not None:
            values["completed"] = task_filter.completed
        if task_filter.search:
            values["needle"] = _like_pattern(task_filter.search)
        priorities, tags = [], []
        if task_filter.priorities:
            priorities = sorted(set(task_filter.priorities), key=_PRIORITY_ORDER.index)
            values |= {f"priority_{i}": priority for i, priority in enumerate(priorities)}
        if task_filter.tags:
            tags = sorted({tag_key(name) for name in task_filter.tags})
            values |= {f"tag_{i}": key for i, key in enumerate(tags)}
        if task_filter.due_before is not None:
            values["due_before"] = task_filter.due_before
        if task_filter.due_after is not None:
            values["due_after"] = task_filter.due_after
        if task_filter.overdue is not None:
            values["now"] = utcnow()
        shape = Shape(
            trash=trash,
            completed="completed" in values,
            search="needle" in values,
            priorities=len(priorities),
            tags=len(tags),
            due_before="due_before" in values,
            due_after="due_after" in values,
            overdue=task_filter.overdue,
        )
        return cls(shape, values)


@lru_cache(maxsize=SHAPES_KEPT)
def _count_statement(shape: Shape) -> AnySelect:
    """The count, and whether the user still exists."""
    return select(func.count(), session_live()).select_from(TASKS).where(*filter_conditions(shape))


def count(runner: Runner, where: Where) -> int:
    found = runner.first(_count_statement(where.shape), where.values)
    assert found is not None  # an aggregate always answers a row
    total, alive = found
    require_live(alive)
    return int(total)


_STATS = select(
    func.count(), func.count().filter(COLUMNS.completed == true()), session_live()
).where(OWNED, LIVE)


def task_stats(runner: Runner, viewer: TokenClaims, /) -> TaskStats:
    """The viewer's live tasks counted: all, completed, pending."""
    found = runner.first(_STATS, caller(viewer))
    assert found is not None  # an aggregate always answers a row
    total, completed, alive = found
    require_live(alive)
    return TaskStats(total=total, completed=completed, pending=total - completed)
