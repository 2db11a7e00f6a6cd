"""Subscription resolvers: live events of the viewer's own tasks, over a socket
(`resolvers.sockets`)."""

from collections.abc import AsyncGenerator

from strawberry.types import Info

from app.broker import SubscriberBehind
from resolvers.context import Context
from schema.types import TaskEventType

ContextInfo = Info[Context, None]


async def task_events(info: ContextInfo) -> AsyncGenerator[TaskEventType, None]:
    """Every committed change to the viewer's tasks, from any door and any instance, from the
    moment of subscribing, each task's in version order. The broker knows only the user's events:
    another user's never reach this generator."""
    context = info.context
    await context.user()  # UNAUTHENTICATED before any event is subscribed to
    viewer = await context.viewer()
    async with context.runtime.broker.subscribe(viewer.user_id) as events:
        try:
            async for event in events:
                yield TaskEventType.of(event)  # its `task` is read when asked for
        except SubscriberBehind:
            if context.websocket is not None:
                await context.websocket.close(1013, "Too far behind: reconnect and refetch")
