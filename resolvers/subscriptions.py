"""Subscription resolvers: live events of the viewer's own tasks, over a socket
(`resolvers.live`)."""

from collections.abc import AsyncGenerator
from functools import partial

from strawberry.types import Info

from app.broker import SubscriberBehind
from app.events import TaskEvent
from app.services import tasks as task_service
from resolvers.context import Context
from schema.types import TaskEventType, TaskType, UserType

ContextInfo = Info[Context, None]


async def task_events(info: ContextInfo) -> AsyncGenerator[TaskEventType, None]:
    """Every committed change to the viewer's tasks, from any door and any instance, from the
    moment of subscribing, each task's in version order. The broker knows only the user's events:
    another user's never reach this generator."""
    context = info.context
    viewer = await context.claims()
    owner = UserType.from_model(await context.user())

    async def read_task(event: TaskEvent) -> TaskType | None:
        found = await context.db.read(
            task_service.find_task_in_any_state, viewer, task_id=event.task_id
        )
        return TaskType.from_row(found, owner) if found else None

    async with context.runtime.broker.subscribe(viewer.user_id) as events:
        try:
            async for event in events:
                yield TaskEventType.of(event, read_task=partial(read_task, event))
        except SubscriberBehind:
            if context.websocket is not None:
                await context.websocket.close(1013, "Too far behind: reconnect and refetch")
