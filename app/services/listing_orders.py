"""In which order a listing reads tasks, and where a page of it ended.

Every order is a list of *segments*, each a slice of the tasks (`where`) read in the order of its
key columns, the last of which is the id. Most orders are one segment. The default order is two
(incomplete tasks, then completed ones, each newest first) and the due-date orders are two (tasks
with a due date, then those without, last in both directions). Each segment is served by an index,
so a page by key is at most one range read per segment: page 1,000 costs what page 1 costs.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    SmallInteger,
    String,
    bindparam,
    false,
    true,
    tuple_,
)
from sqlalchemy.sql.elements import UnaryExpression

from app.services.cursors import INVALID_CURSOR
from app.services.task_table import COLUMNS, TaskRow
from models.task import Priority, PriorityRank, Sort, TaskOrderField
from models.text import title_key
from models.utc import UTCDateTime

# Reading a cursor's key back. The key is signed, but no value of it may reach a statement
# unchecked: an integer beyond 64 bits is an OverflowError in SQLite's driver (PostgreSQL answers
# a page), a NUL an error on PostgreSQL alone, an instant past year 9999 in UTC an OverflowError
# in the bind. Each reader takes only what `Segment.key_of` writes for its column (type and
# range) and refuses the rest as an invalid cursor, so both databases answer every cursor alike.

KeyReader = Callable[[object], Any]


def _integers(bits: int) -> KeyReader:
    """Ids (and any integer key): what the column stores, from 1, never a bool or a float."""
    highest = 2 ** (bits - 1) - 1

    def read(value: object) -> int:
        if type(value) is not int or not 1 <= value <= highest:
            raise INVALID_CURSOR
        return value

    return read


def _instant(value: object) -> datetime:
    """A timestamp as `datetime.isoformat` writes it: with an offset, within UTC's years."""
    if not isinstance(value, str):
        raise INVALID_CURSOR
    try:
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() is None:
            raise INVALID_CURSOR
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise INVALID_CURSOR from None


def _text(value: object) -> str:
    """A case-folded title: text that the databases can compare (a JSON string has no lone
    surrogate: orjson refuses one)."""
    if not isinstance(value, str) or "\x00" in value:
        raise INVALID_CURSOR
    return value


def _priority(value: object) -> Priority:
    if not isinstance(value, str):
        raise INVALID_CURSOR
    try:
        return Priority(value)
    except ValueError:
        raise INVALID_CURSOR from None


def _reader(column: Any) -> KeyReader:
    """How a key value of `column` comes back from a cursor's JSON; an order keyed by a column
    of another type fails at import, not on a cursor."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _instant
    if isinstance(kind, PriorityRank):
        return _priority
    if isinstance(kind, Integer):
        bits = 16 if isinstance(kind, SmallInteger) else 64 if isinstance(kind, BigInteger) else 32
        return _integers(bits)
    if isinstance(kind, String):
        return _text
    raise TypeError(f"no cursor reader for the key column {column.name} ({kind!r})")


def _field_of(column: Any) -> str:
    """The row field a key column's value comes from: a title's key is made from the title."""
    return "title" if column.name == "title_key" else str(column.name)


# Orders and segments are made once, at import, and compared by identity: they key the caches of
# statements built from them.
@dataclass(frozen=True, eq=False)
class Segment:
    """A slice of the tasks (`where`), read in the order of `key` (the last key column is id)."""

    where: ColumnElement[bool]
    holds: Callable[[TaskRow], bool]  # `where`, of a row already read
    holds_reads: tuple[str, ...]  # the row fields `holds` reads
    key: tuple[Any, ...]  # the columns
    descending: bool
    # Sorts before the key, though `where` makes it one value: it names the index to read. By
    # id alone PostgreSQL may walk the primary key through every user's tasks (it cannot know
    # that this user's tasks are few past a cursor's id), which a deep page felt (1.8 times the
    # first page's latency in the bench, 9.6 ms against 0.2 over 40,000 other tasks).
    leading: UnaryExpression[Any] | None = None
    readers: tuple[KeyReader, ...] = field(init=False)
    reads: frozenset[str] = field(init=False)  # the row fields `holds` and `key_of` read

    def __post_init__(self) -> None:
        object.__setattr__(self, "readers", tuple(_reader(column) for column in self.key))
        keys = (_field_of(column) for column in self.key)
        object.__setattr__(self, "reads", frozenset((*self.holds_reads, *keys)))

    def order_by(self) -> list[UnaryExpression[Any]]:
        key = [column.desc() if self.descending else column.asc() for column in self.key]
        return key if self.leading is None else [self.leading, *key]

    def after(self) -> ColumnElement[bool]:
        """Past the position bound to `:after_0`, `:after_1`, ... in this segment's order."""
        position = tuple_(
            *(bindparam(f"after_{i}", type_=column.type) for i, column in enumerate(self.key))
        )
        row = tuple_(*self.key)
        return row < position if self.descending else row > position

    def key_of(self, task: TaskRow) -> tuple[Any, ...]:
        """`task`'s key in this segment, as JSON values (for a cursor)."""
        values = []
        for column in self.key:
            value = task[_field_of(column)]
            if column.name == "title_key":
                value = title_key(value)
            values.append(value.isoformat() if isinstance(value, datetime) else value)
        return tuple(values)

    def position_values(self, key: tuple[Any, ...]) -> dict[str, Any]:
        """A cursor's key as the values of `after()`; `INVALID_CURSOR` when it is not one (a
        value of another type or out of its column's range included)."""
        if len(key) != len(self.key):
            raise INVALID_CURSOR
        return {
            f"after_{i}": read(value)
            for i, (read, value) in enumerate(zip(self.readers, key, strict=True))
        }


@dataclass(frozen=True, eq=False)
class Order:
    name: str
    segments: tuple[Segment, ...]
    order_by: tuple[Any, ...]  # the whole order as one ORDER BY (pages by offset, first pages)
    reads: frozenset[str] = field(init=False)  # the row fields its cursors read

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", frozenset().union(*(s.reads for s in self.segments)))

    def segment_of(self, task: TaskRow) -> int:
        return next(index for index, part in enumerate(self.segments) if part.holds(task))


_ID = COLUMNS.id


def _by(column: Any, descending: bool) -> Order:
    """Ordered by `column` alone, then by id, in one direction."""
    segment = Segment(true(), lambda _task: True, (), (column, _ID), descending)
    name = f"-{column.name}" if descending else column.name
    return Order(name, (segment,), tuple(segment.order_by()))


def _by_due_date(descending: bool) -> Order:
    """Tasks with a due date by due date, then those without: last in both directions."""
    with_date = Segment(
        COLUMNS.due_at.is_not(None),
        lambda task: task["due_at"] is not None,
        ("due_at",),
        (COLUMNS.due_at, _ID),
        descending,
    )
    due = (COLUMNS.due_at.desc() if descending else COLUMNS.due_at.asc()).nulls_last()
    without = Segment(
        COLUMNS.due_at.is_(None),
        lambda task: task["due_at"] is None,
        ("due_at",),
        (_ID,),
        descending,
        due,
    )
    name = "-due_at" if descending else "due_at"
    return Order(name, (with_date, without), (due, *with_date.order_by()[1:]))


_incomplete = Segment(
    COLUMNS.completed == false(),
    lambda task: not task["completed"],
    ("completed",),
    (COLUMNS.created_at, _ID),
    True,
)
_completed = Segment(
    COLUMNS.completed == true(),
    lambda task: task["completed"],
    ("completed",),
    (COLUMNS.created_at, _ID),
    True,
)
DEFAULT_ORDER = Order(
    "default", (_incomplete, _completed), (COLUMNS.completed.asc(), *_incomplete.order_by())
)
TRASH_ORDER = _by(COLUMNS.deleted_at, descending=True)  # most recently deleted first
_COLUMNS = {
    TaskOrderField.CREATED_AT: COLUMNS.created_at,
    TaskOrderField.UPDATED_AT: COLUMNS.updated_at,
    TaskOrderField.PRIORITY: COLUMNS.priority,
    TaskOrderField.TITLE: COLUMNS.title_key,
}
_ORDERS = {
    (field, descending): _by_due_date(descending)
    if field is TaskOrderField.DUE_AT
    else _by(_COLUMNS[field], descending)
    for field in TaskOrderField
    for descending in (False, True)
}


def order_of(sort: Sort | None) -> Order:
    return DEFAULT_ORDER if sort is None else _ORDERS[sort.field, sort.descending]
