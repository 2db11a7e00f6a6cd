"""A subscription's queue, without sockets: falling behind is what `tests/test_subscriptions.py`
cannot provoke on demand."""

import asyncio
import uuid

import pytest

from app.broker import SubscriberBehind, Subscription
from app.events import TaskEvent, TaskEventKind
from models.utc import utcnow


def _event(version: int) -> TaskEvent:
    return TaskEvent(TaskEventKind.UPDATED, uuid.uuid4(), 1, version, utcnow())


def test_a_subscription_that_falls_behind_ends_instead_of_dropping_events() -> None:
    async def read() -> list[int]:
        subscription = Subscription(limit=2)
        for version in (1, 2, 3):  # the third does not fit
            subscription.put(_event(version))
        return [event.version async for event in subscription]

    with pytest.raises(SubscriberBehind):
        asyncio.run(read())


def test_a_subscription_within_its_limit_keeps_every_event_in_order() -> None:
    async def read() -> list[int]:
        subscription = Subscription(limit=3)
        for version in (1, 2, 3):
            subscription.put(_event(version))
        return [(await subscription.__anext__()).version for _ in range(3)]

    assert asyncio.run(read()) == [1, 2, 3]
