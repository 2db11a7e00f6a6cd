"""The `Broker`: one instance's fan-out of live events to its sockets, by user.

Events come in from the database (`app.listener` on PostgreSQL, on the loop: `deliver`; on
SQLite a `Runner`'s after-commit hook, from its worker thread: `publish`) and go out to the
subscriptions of their user, in the order they came. Sockets register here too, so that the
sockets of a session close when it ends, and a user holds at most `GRAPHQL_MAX_SOCKETS_PER_USER`
of them on one instance.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any

from app.events import SessionEnded, TaskEvent, parse
from app.metrics import Metrics
from models.utc import utcnow

logger = logging.getLogger(__name__)

# Events a subscription may have waiting: one that falls this far behind ends (`SubscriberBehind`)
# rather than hold memory for ever.
QUEUE_LIMIT = 1000

Close = Callable[[int, str], Coroutine[Any, Any, None]]


class TooManySockets(Exception):
    pass


class Socket:
    """A registered socket of `user_id`'s session `session_id`, how to close it, and the timer
    that closes it when its access token expires."""

    def __init__(self, user_id: uuid.UUID, session_id: uuid.UUID, close: Close) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.close = close
        self.expiry: asyncio.TimerHandle | None = None


class Broker:
    """Per instance: subscriptions and sockets by user; events handed over from any thread, in
    the order they are handed over (on SQLite, commit order: `app.statements.AfterCommit`)."""

    def __init__(self, max_sockets_per_user: int, metrics: Metrics) -> None:
        self._metrics = metrics
        self.max_sockets_per_user = max_sockets_per_user
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscriptions: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._sockets: dict[uuid.UUID, set[Socket]] = defaultdict(set)
        self._background: set[asyncio.Task[None]] = set()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on `loop` from now on (the app's lifespan calls it)."""
        self._loop = loop

    def subscriptions_of(self, user_id: uuid.UUID) -> int:
        """How many subscriptions of `user_id` this instance holds. The protocol acknowledges no
        subscribe, so this is how a test knows its subscription has started."""
        return len(self._subscriptions.get(user_id, ()))

    def publish(self, payloads: Iterable[str]) -> None:
        """Hand `announce` payloads over to the loop, in order; callable from any thread."""
        payloads = list(payloads)
        if payloads and self._loop is not None:
            self._loop.call_soon_threadsafe(self.deliver, payloads)

    def deliver(self, payloads: Iterable[str]) -> None:
        """Hand `announce` payloads to their subscribers and sockets; on the loop only. An
        instance with neither (serving REST alone) receives every event too: it skips them
        unread."""
        if not self._subscriptions and not self._sockets:
            return
        for payload in payloads:
            event = parse(payload)
            if isinstance(event, SessionEnded):
                self._close_session(event)
                continue
            for subscription in self._subscriptions.get(event.user_id, ()):
                subscription.put(event)
                self._metrics.events_delivered.inc()

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator["Subscription"]:
        """The events of `user_id`'s tasks from now on, while the block runs."""
        subscription = Subscription()
        self._subscriptions[user_id].add(subscription)
        self._metrics.subscriptions.inc()
        try:
            yield subscription
        finally:
            self._metrics.subscriptions.dec()
            subscriptions = self._subscriptions.get(user_id)
            if subscriptions is not None:
                subscriptions.discard(subscription)
                if not subscriptions:
                    del self._subscriptions[user_id]

    def connect(
        self, user_id: uuid.UUID, session_id: uuid.UUID, expires_at: datetime, close: Close
    ) -> Socket:
        """Register a socket, to be closed with 4401 when its session ends or at `expires_at`
        (its access token's expiry); `TooManySockets` past the per-user limit."""
        sockets = self._sockets[user_id]
        if len(sockets) >= self.max_sockets_per_user:
            raise TooManySockets
        socket = Socket(user_id, session_id, close)
        delay = (expires_at - utcnow()).total_seconds()
        socket.expiry = asyncio.get_running_loop().call_later(
            delay, self._close, socket, 4401, "Unauthorized"
        )
        sockets.add(socket)
        self._metrics.sockets.inc()
        return socket

    def disconnect(self, socket: Socket) -> None:
        if socket.expiry is not None:
            socket.expiry.cancel()
        sockets = self._sockets.get(socket.user_id)
        if sockets is not None and socket in sockets:
            sockets.discard(socket)
            self._metrics.sockets.dec()
            if not sockets:
                del self._sockets[socket.user_id]

    def close_all(self, code: int, reason: str) -> None:
        """Close every socket (events may have been missed: clients reconnect and refetch)."""
        for sockets in list(self._sockets.values()):
            for socket in list(sockets):
                self._close(socket, code, reason)

    def _close_session(self, ended: SessionEnded) -> None:
        for socket in list(self._sockets.get(ended.user_id, ())):
            if socket.session_id == ended.session_id:
                self._close(socket, 4401, "Unauthorized")

    def _close(self, socket: Socket, code: int, reason: str) -> None:
        self.disconnect(socket)
        task = asyncio.get_running_loop().create_task(_close(socket, code, reason))
        self._background.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._background.discard)


async def _close(socket: Socket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):  # the client closed it first: nothing to do
        await socket.close(code, reason)


class SubscriberBehind(Exception):
    """A subscription fell `QUEUE_LIMIT` events behind and missed some: it ends, and its client
    reconnects and refetches."""


class Subscription:
    """One subscriber's events, in order; iterate it to wait for them."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self._queue: asyncio.Queue[TaskEvent] = asyncio.Queue(limit)
        self._behind = False

    def put(self, event: TaskEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._behind = True

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> TaskEvent:
        event = await self._queue.get()
        if self._behind:
            raise SubscriberBehind
        return event
