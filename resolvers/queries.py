"""Query resolvers: each reads like its line in the contract and calls one service."""

from collections.abc import Awaitable, Callable
from functools import partial

import strawberry
from strawberry.types import Info

from app.services import listing
from app.services import sessions as session_service
from app.services import tasks as task_service
from app.services.listing import TaskPage
from app.services.tags import tag_counts
from app.validation import validate
from models.task import Sort, TaskFilter
from resolvers.context import Context
from schema.enums import OrderDirection
from schema.inputs import TaskFilterInput, TaskOrderInput, provided
from schema.types import (
    PageInfo,
    SessionType,
    TagCountType,
    TaskConnection,
    TaskEdge,
    TaskStatsType,
    TaskType,
    UserType,
)

ContextInfo = Info[Context, None]
DEFAULT_PAGE_SIZE = 50


async def me(info: ContextInfo) -> UserType:
    return UserType.from_model(await info.context.user())


async def task(info: ContextInfo, id: int) -> TaskType | None:
    user, viewer = await info.context.user(), await info.context.claims()
    found = await info.context.db.read(task_service.find_task, viewer, task_id=id)
    return TaskType.from_row(found, UserType.from_model(user)) if found else None


def _connection(
    page: TaskPage, owner: UserType, after: str | None, count: Callable[[], Awaitable[int]]
) -> TaskConnection:
    nodes = [TaskType.from_row(found, owner) for found in page.tasks]
    return TaskConnection(
        nodes=nodes,
        edges=[
            TaskEdge(node=node, encode_cursor=partial(page.cursor, index))
            for index, node in enumerate(nodes)
        ],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=page.cursor(0) if nodes else None,
            end_cursor=page.cursor(len(nodes) - 1) if nodes else None,
        ),
        count=count,
    )


async def tasks(
    info: ContextInfo,
    filter: TaskFilterInput | None = strawberry.UNSET,
    order_by: TaskOrderInput | None = strawberry.UNSET,
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = strawberry.UNSET,
) -> TaskConnection:
    context = info.context
    user, viewer = await context.user(), await context.claims()
    task_filter = validate(TaskFilter, provided(filter) if filter else {})
    sort = None
    if order_by:
        sort = Sort(field=order_by.field, descending=order_by.direction is OrderDirection.DESC)
    after = None if after is strawberry.UNSET else after
    page = await context.db.read(
        listing.page_tasks,
        viewer,
        task_filter=task_filter,
        sort=sort,
        first=DEFAULT_PAGE_SIZE if first is None else first,
        after=after,
        cursor_key=context.runtime.settings.signing_key,
    )

    async def count() -> int:
        return await context.db.read(listing.count_tasks, viewer, task_filter=task_filter)

    return _connection(page, UserType.from_model(user), after, count)


async def trash(
    info: ContextInfo, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = strawberry.UNSET
) -> TaskConnection:
    context = info.context
    user, viewer = await context.user(), await context.claims()
    after = None if after is strawberry.UNSET else after
    page = await context.db.read(
        listing.page_trash,
        viewer,
        first=DEFAULT_PAGE_SIZE if first is None else first,
        after=after,
        cursor_key=context.runtime.settings.signing_key,
    )

    async def count() -> int:
        found = await context.db.read(listing.list_trash, viewer, limit=1, offset=0)
        return found.total

    return _connection(page, UserType.from_model(user), after, count)


async def tags(info: ContextInfo) -> list[TagCountType]:
    viewer = await info.context.claims()
    return [TagCountType.from_model(tag) for tag in await info.context.db.read(tag_counts, viewer)]


async def task_stats(info: ContextInfo) -> TaskStatsType:
    viewer = await info.context.claims()
    return TaskStatsType.from_model(await info.context.db.read(task_service.task_stats, viewer))


async def sessions(info: ContextInfo) -> list[SessionType]:
    """Your live sessions, newest first."""
    viewer = await info.context.claims()
    found = await info.context.db.read(session_service.live_sessions, viewer)
    return [SessionType.from_model(session) for session in found]
