"""Listing a user's tasks: pages by offset (REST) and by key (GraphQL), the trash's too.

What a listing selects is `app.services.listing_filters`; in which order it reads them,
`app.services.listing_orders`. A page by key ends in opaque cursors (`app.services.cursors`),
signed for the viewer, that continue only the order and filter they were made for.

A page by key selects only the task fields its caller reads (GraphQL names them: see
`resolvers.selections`), and those its cursors read; a page by offset (REST) selects them all.

Statements are built once per shape (filters, order, segment, the fields selected) with bound
parameters, and reused while in use (the most recent `SHAPES_KEPT` of each kind: see
`listing_filters`).
"""

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from app.prepared import AnySelect
from app.security import TokenClaims
from app.services.cursors import INVALID_CURSOR, Position, decode_cursor, encode_cursor
from app.services.listing_filters import SHAPES_KEPT, Shape, Where, count, filter_conditions
from app.services.listing_orders import TRASH_ORDER, Order, order_of
from app.services.sessions import require_session
from app.services.task_table import COLUMNS, TRASH_FIELDS, TaskRow, row_of
from app.statements import Runner
from models.task import TASK_FIELDS, Sort, TaskFilter

Fields = tuple[str, ...]  # the row fields a statement selects, in `TRASH_FIELDS`' order


def selected_fields(shape: Shape, order: Order, wanted: frozenset[str] | None) -> Fields:
    """What a page of `shape` in `order` selects: the fields `wanted` (None: every one) and
    those its cursors read."""
    every = TRASH_FIELDS if shape.trash else TASK_FIELDS
    if wanted is None:
        return every
    return tuple(name for name in every if name in wanted or name in order.reads)


@lru_cache(maxsize=SHAPES_KEPT)
def offset_statement(shape: Shape, order: Order, fields: Fields) -> AnySelect:
    return (
        select(*(COLUMNS[name] for name in fields))
        .where(*filter_conditions(shape))
        .order_by(*order.order_by)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@lru_cache(maxsize=SHAPES_KEPT)
def segment_statement(
    shape: Shape, order: Order, segment: int, after: bool, fields: Fields
) -> AnySelect:
    part = order.segments[segment]
    conditions = [*filter_conditions(shape), part.where]
    if after:
        conditions.append(part.after())
    return (
        select(*(COLUMNS[name] for name in fields))
        .where(*conditions)
        .order_by(*part.order_by())
        .limit(bindparam("limit"))
    )


def _rows(
    runner: Runner, statement: AnySelect, values: dict[str, Any], fields: Fields
) -> list[TaskRow]:
    return [row_of(fields, found) for found in runner.all(statement, values)]


@dataclass(frozen=True)
class TaskList:
    tasks: list[TaskRow]
    total: int  # matching the filter, before limit and offset


def list_by_offset(
    runner: Runner, where: Where, order: Order, *, limit: int, offset: int
) -> TaskList:
    """One page by offset, with the count of all that match."""
    total = count(runner, where)
    values = {**where.values, "limit": limit, "offset": offset}
    fields = selected_fields(where.shape, order, None)
    statement = offset_statement(where.shape, order, fields)
    return TaskList(tasks=_rows(runner, statement, values, fields), total=total)


@dataclass(frozen=True)
class TaskPage:
    """A page by key: its tasks, whether more follow, and what its cursors and its count need
    (the listing's filter, `where`: a total counts all that match it, on every page)."""

    tasks: list[TaskRow]
    has_next_page: bool
    user_id: uuid.UUID
    cursor_key: str
    listing: str
    order: Order
    where: Where

    def cursor(self, index: int) -> str:
        """The opaque cursor just after the page's task `index`: signed, so made only for those
        asked for."""
        task = self.tasks[index]
        segment = self.order.segment_of(task)
        key = self.order.segments[segment].key_of(task)
        return encode_cursor(Position(self.listing, segment, key), self.user_id, self.cursor_key)


def page_by_key(
    runner: Runner,
    viewer: TokenClaims,
    where: Where,
    order: Order,
    *,
    first: int,
    after: str | None,
    cursor_key: str,
    fields: frozenset[str] | None = None,
) -> TaskPage:
    """One page by key, of the task `fields` asked for (None: every one). The first page is one
    read in the whole order; after a cursor, the rest of the cursor's segment, then the next
    segments from their top, until the page is full (one more task than asked tells whether
    another page follows)."""
    listing = f"{order.name}:{where.fingerprint}"
    wanted = first + 1
    values = dict(where.values)
    selected = selected_fields(where.shape, order, fields)
    rows: list[TaskRow] = []
    if after is None:
        first_page = {**values, "limit": wanted, "offset": 0}
        rows = _rows(runner, offset_statement(where.shape, order, selected), first_page, selected)
        return _page(runner, viewer, where, order, rows, first, cursor_key, listing)
    position = decode_cursor(after, viewer.user_id, cursor_key, listing)
    if not 0 <= position.segment < len(order.segments):
        raise INVALID_CURSOR
    start = position.segment
    values |= order.segments[start].position_values(position.key)
    for segment in range(start, len(order.segments)):
        statement = segment_statement(where.shape, order, segment, segment == start, selected)
        rows += _rows(runner, statement, {**values, "limit": wanted - len(rows)}, selected)
        if len(rows) >= wanted:
            break
    return _page(runner, viewer, where, order, rows, first, cursor_key, listing)


def _page(
    runner: Runner,
    viewer: TokenClaims,
    where: Where,
    order: Order,
    rows: list[TaskRow],
    first: int,
    cursor_key: str,
    listing: str,
) -> TaskPage:
    if not rows:
        require_session(runner, viewer)
    return TaskPage(
        tasks=rows[:first],
        has_next_page=len(rows) > first,
        user_id=viewer.user_id,
        cursor_key=cursor_key,
        listing=listing,
        order=order,
        where=where,
    )


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
    fields: frozenset[str] | None = None,
) -> TaskPage:
    """One page by key, of the task `fields` asked for (None: every one): a deep page costs
    what the first one costs. A cursor continues only the order and filter it was made for,
    whatever fields either page asked for."""
    where = Where.of(viewer, task_filter)
    return page_by_key(
        runner,
        viewer,
        where,
        order_of(sort),
        first=first,
        after=after,
        cursor_key=cursor_key,
        fields=fields,
    )


def list_trash(runner: Runner, viewer: TokenClaims, /, *, limit: int, offset: int) -> TaskList:
    """The trash by offset, most recently deleted first, with `deleted_at`."""
    where = Where.of(viewer, TaskFilter(), trash=True)
    return list_by_offset(runner, where, TRASH_ORDER, limit=limit, offset=offset)


def page_trash(
    runner: Runner,
    viewer: TokenClaims,
    /,
    *,
    first: int,
    after: str | None,
    cursor_key: str,
    fields: frozenset[str] | None = None,
) -> TaskPage:
    where = Where.of(viewer, TaskFilter(), trash=True)
    return page_by_key(
        runner,
        viewer,
        where,
        TRASH_ORDER,
        first=first,
        after=after,
        cursor_key=cursor_key,
        fields=fields,
    )
