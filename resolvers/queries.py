"""Query resolvers: each reads like its line in the contract and calls one service."""

from collections.abc import Callable
from functools import cache, partial

import strawberry
from strawberry.types import Info

from app.security import TokenClaims
from app.services import listing, listing_filters
from app.services import sessions as session_service
from app.services import tasks as task_service
from app.services.listing import TaskPage
from app.services.tags import tag_counts
from app.validation import validate
from models.task import Sort, TaskFilter, TaskPageSize
from resolvers.context import Context
from resolvers.selections import page_fields
from schema.enums import OrderDirection
from schema.inputs import TaskFilterInput, TaskOrderInput, provided
from schema.types import (
    SessionType,
    TagCountType,
    TaskConnection,
    TaskStatsType,
    TaskType,
    UserType,
)

ContextInfo = Info[Context, None]
DEFAULT_PAGE_SIZE = 50
NO_FILTER = TaskFilter()  # read, never changed: `Where.of` takes its values


@cache  # only sizes that pass are kept (a refused one raises): at most 501 entries
def _page_size(first: int | None) -> int:
    """`first` as REST's `limit` is checked (1..500; null: the default)."""
    return validate(TaskPageSize, {"first": DEFAULT_PAGE_SIZE if first is None else first}).first


async def me(info: ContextInfo) -> UserType:
    return UserType.from_model(await info.context.user())


async def task(info: ContextInfo, id: int) -> TaskType | None:
    user, found = await info.context.with_user(partial(task_service.find_task, task_id=id))
    return TaskType.from_row(found, UserType.from_model(user)) if found else None


async def tasks(
    info: ContextInfo,
    filter: TaskFilterInput | None = strawberry.UNSET,
    order_by: TaskOrderInput | None = strawberry.UNSET,
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = strawberry.UNSET,
) -> TaskConnection:
    viewer = await info.context.viewer()  # a missing or bad token before bad arguments
    task_filter = validate(TaskFilter, provided(filter)) if filter else NO_FILTER
    sort = None
    if order_by:
        sort = Sort(field=order_by.field, descending=order_by.direction is OrderDirection.DESC)
    service = partial(listing.page_tasks, task_filter=task_filter, sort=sort)
    return await _page(info, service, viewer, first, after)


async def trash(
    info: ContextInfo, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = strawberry.UNSET
) -> TaskConnection:
    viewer = await info.context.viewer()  # a missing or bad token before bad arguments
    return await _page(info, listing.page_trash, viewer, first, after)


async def _page(
    info: ContextInfo,
    service: Callable[..., TaskPage],
    viewer: TokenClaims,
    first: int | None,
    after: str | None,
) -> TaskConnection:
    """The page `service` reads (`listing.page_tasks`, `listing.page_trash`): `first` tasks
    `after` the cursor, of the task and owner fields the query reads."""
    after = None if after is strawberry.UNSET else after
    read = page_fields(info)
    page = await info.context.db.run(
        service,
        viewer,
        first=_page_size(first),
        after=after,
        cursor_key=info.context.runtime.settings.signing_key,
        fields=read.tasks,
        owner=read.owner,
    )
    return TaskConnection.of(page, after=after)


async def tags(info: ContextInfo) -> list[TagCountType]:
    viewer = await info.context.viewer()
    return [TagCountType.from_model(tag) for tag in await info.context.db.run(tag_counts, viewer)]


async def task_stats(info: ContextInfo) -> TaskStatsType:
    viewer = await info.context.viewer()
    return TaskStatsType.from_model(await info.context.db.run(listing_filters.task_stats, viewer))


async def sessions(info: ContextInfo) -> list[SessionType]:
    """Your live sessions, newest first."""
    viewer = await info.context.viewer()
    found = await info.context.db.run(session_service.live_sessions, viewer)
    return [SessionType.from_model(session) for session in found]
