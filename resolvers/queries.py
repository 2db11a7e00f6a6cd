"""Query resolvers: each reads like its line in the contract and calls one service."""

from functools import partial

import strawberry
from strawberry.types import Info

from app.services import tasks as task_service
from app.validation import validate
from models.task import TaskFilter
from resolvers.context import Context
from schema.inputs import TaskFilterInput, provided
from schema.types import PageInfo, TaskConnection, TaskEdge, TaskStatsType, TaskType, UserType

ContextInfo = Info[Context, None]
DEFAULT_PAGE_SIZE = 50


async def me(info: ContextInfo) -> UserType:
    return UserType.from_model(await info.context.user())


async def task(info: ContextInfo, id: int) -> TaskType | None:
    user = await info.context.user()
    found = await info.context.db.read(task_service.find_task, user.id, task_id=id)
    return TaskType.from_row(found, UserType.from_model(user)) if found else None


async def tasks(
    info: ContextInfo,
    filter: TaskFilterInput | None = strawberry.UNSET,
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = strawberry.UNSET,
) -> TaskConnection:
    context = info.context
    user = await context.user()
    task_filter = validate(TaskFilter, provided(filter) if filter else {})
    after = None if after is strawberry.UNSET else after
    page = await context.db.read(
        task_service.page_tasks,
        user.id,
        task_filter=task_filter,
        first=DEFAULT_PAGE_SIZE if first is None else first,
        after=after,
        cursor_key=context.runtime.settings.signing_key,
    )
    owner = UserType.from_model(user)
    nodes = [TaskType.from_row(found, owner) for found in page.tasks]

    async def count() -> int:
        return await context.db.read(task_service.count_tasks, user.id, task_filter=task_filter)

    return TaskConnection(
        nodes=nodes,
        edges=[
            TaskEdge(node=node, encode_cursor=partial(page.cursor, found))
            for found, node in zip(page.tasks, nodes, strict=True)
        ],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=page.cursor(page.tasks[0]) if page.tasks else None,
            end_cursor=page.cursor(page.tasks[-1]) if page.tasks else None,
        ),
        count=count,
    )


async def task_stats(info: ContextInfo) -> TaskStatsType:
    user = await info.context.user()
    return TaskStatsType.from_model(await info.context.db.read(task_service.task_stats, user.id))
