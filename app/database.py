"""`Database`: runs the services' units of work in worker threads, within a deadline."""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import anyio
from anyio import to_thread
from opentelemetry.trace import Tracer
from sqlalchemy import Engine, event, literal, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.errors import Unavailable
from app.metrics import Metrics, Pending
from app.security import TokenClaims
from app.statements import AfterCommit, Prepared, Runner, Statement
from app.throttle import Window

T = TypeVar("T")
P = ParamSpec("P")
logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly"


_PING = select(literal(1))


def ping(runner: Runner) -> None:
    runner.all(_PING)


class Database:
    """Runs synchronous services off the event loop, each call with a connection of its own.

    Both doors call services through `run` (or `write`): one worker-thread hop per unit of work,
    a connection never shared between concurrent calls (GraphQL runs fields and batched
    operations at once), and back in the pool as soon as the call returns.

    - `run` gives the service a `Runner` (`app.statements`): a connection in autocommit mode that
      runs prepared statements on the driver's cursor. Each statement is a transaction of its
      own, which saves the BEGIN and ROLLBACK round trips: enough for reads, and for writes that
      are a single statement (an INSERT, an UPDATE ... RETURNING), atomic by themselves. Writes
      that must be atomic together run inside `runner.transaction()`.
    - `write` is `run` for a user's change to their tasks (a create, update, toggle, delete,
      restore or purge): the change first takes a place in the user's writes of the minute
      (`USER_WRITES_PER_MINUTE`, across doors and instances), or fails with `RateLimited` and
      runs nothing.

    `engine` is in autocommit mode (`create_db_engine(..., autocommit=True)`). `after_commit`,
    on SQLite, takes the events of committed writes (`AfterCommit`; None on PostgreSQL, where
    `NOTIFY` carries them).

    A unit holds a thread and a connection from start to end, so at most `threads` units run at
    once (the pool's size): none ever waits for a connection while holding a thread.
    """

    def __init__(
        self,
        engine: Engine,
        timeout: float,
        threads: int,
        metrics: Metrics,
        tracer: Tracer | None = None,
        after_commit: Callable[[list[str]], None] | None = None,
        writes: Window | None = None,
    ) -> None:
        self.engine = engine
        self._metrics = metrics
        self._tracer = tracer
        event.listen(engine, "checkout", lambda *_: metrics.connections_in_use.inc())
        event.listen(engine, "checkin", lambda *_: metrics.connections_in_use.dec())
        self._after_commit = AfterCommit(after_commit) if after_commit is not None else None
        self._writes = writes  # each user's task writes of the minute; None: unlimited
        self.timeout = timeout
        self._threads = anyio.CapacityLimiter(threads)
        self._prepared: dict[Statement, Prepared] = {}  # see `Runner`
        self._in_flight = threading.Lock()
        self._running = 0  # units in their worker threads, abandoned ones included (`close`)

    async def run(
        self, service: Callable[Concatenate[Runner, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`service(runner, *args, **kwargs)`, each statement committing on its own (or, inside
        `runner.transaction()`, together), run on the driver's cursor (`app.statements`: the ORM
        and Core execution machinery cost more than the round trip)."""

        def on_a_runner() -> T:
            with self._in_flight:
                self._running += 1
            self._metrics.units_running.inc()
            try:
                runner = Runner(
                    self.engine,
                    self._prepared,
                    self._after_commit,
                    self._metrics.events_published,
                    self._tracer,
                )
                try:
                    return service(runner, *args, **kwargs)
                finally:
                    runner.close()
            finally:
                self._metrics.units_running.dec()
                with self._in_flight:
                    self._running -= 1

        return await self._call(on_a_runner)

    async def write(
        self,
        service: Callable[Concatenate[Runner, TokenClaims, P], T],
        viewer: TokenClaims,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`service(runner, viewer, ...)` as `run` runs it, once the viewer's write is counted
        (in the same worker thread: the count may be a round trip to Redis)."""

        def counted(runner: Runner) -> T:
            if self._writes is not None:
                self._writes.claim(str(viewer.user_id))
            return service(runner, viewer, *args, **kwargs)

        return await self.run(counted)

    async def close(self, within: float) -> None:
        """Close the pool's connections, once the units still running have ended (waiting at
        most `within` seconds). A unit its caller stopped waiting for (a cancelled request, the
        trash purge at shutdown) runs on in its thread, holding its connection; handed back to
        a pool already closed, that connection would stay open until garbage-collected."""
        with anyio.move_on_after(within):
            while self._running:
                await anyio.sleep(0.01)
        self.engine.dispose()

    async def _call(self, unit: Callable[[], T]) -> T:
        """`unit` in a worker thread, answered within `timeout`.

        A database that cannot be reached, has no free connection, or stops answering (a frozen
        server never closes the socket, so only a deadline notices) raises `Unavailable`. A thread
        stuck on a frozen server is abandoned; it ends when the server answers or goes away.
        """
        waiting = Pending(self._metrics.units_waiting)

        def started() -> T:
            waiting.end()
            return unit()

        try:
            async with asyncio.timeout(self.timeout):  # cheaper than anyio's cancel scopes
                return await to_thread.run_sync(
                    started, abandon_on_cancel=True, limiter=self._threads
                )
        except (TimeoutError, OperationalError, PoolTimeoutError) as error:
            logger.warning("database unavailable: %r", error)
            raise Unavailable(DATABASE_UNAVAILABLE) from None
        except DBAPIError as error:
            if error.connection_invalidated:
                logger.warning("database connection lost: %r", error)
                raise Unavailable(DATABASE_UNAVAILABLE) from None
            raise
        finally:
            waiting.end()  # given up before it started
