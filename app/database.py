"""`Database`: runs the services' units of work in worker threads, within a deadline."""

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio
from opentelemetry.trace import Tracer
from sqlalchemy import Engine, event, literal, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.errors import Unavailable
from app.metrics import Metrics, Pending
from app.prepared import PreparedStatements
from app.security import TokenClaims
from app.statements import AfterCommit, Runner
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
    a connection never shared between concurrent units, and back in the pool as soon as the unit
    returns. (GraphQL runs fields and batched operations at once: through `SharedTrips`, the
    units they ask for together make one unit, their services run one after another.)

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
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="database")
        self._prepared = PreparedStatements()  # see `Runner`
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
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()

    async def _call(self, unit: Callable[[], T]) -> T:
        """`unit` in a worker thread, answered within `timeout`.

        A database that cannot be reached, has no free connection, or stops answering (a frozen
        server never closes the socket, so only a deadline notices) raises `Unavailable`. A thread
        stuck on a frozen server is abandoned; it ends when the server answers or goes away.

        The threads are the database's own executor, at most `threads` of them: a unit waits for
        one in its queue (and never runs if its caller stops waiting first). anyio's
        `to_thread.run_sync` gives the same bound through a capacity limiter and a cancel scope,
        and cost about twice the CPU a hop under load (a no-op hop, 8 at once: 52 to 62 us
        against 27 to 28); served, `bench.ab` read 16% more `rest_list` and 8 to 10% more
        GraphQL requests a second this way.
        """
        waiting = Pending(self._metrics.units_waiting)

        def started() -> T:
            waiting.end()
            return unit()

        running = contextvars.copy_context().run  # the caller's log fields and trace span
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.get_running_loop().run_in_executor(
                    self._threads, running, started
                )
        except Exception as error:
            if (unavailable := _unavailable(error)) is not None:
                raise unavailable from None
            raise
        finally:
            waiting.end()  # given up before it started


def _unavailable(error: Exception) -> Unavailable | None:
    """`Unavailable` for an error that says the database cannot serve now (unreachable, no free
    connection, past the deadline, the connection lost mid-write); None for any other."""
    if isinstance(error, TimeoutError | OperationalError | PoolTimeoutError):
        logger.warning("database unavailable: %r", error)
        return Unavailable(DATABASE_UNAVAILABLE)
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        logger.warning("database connection lost: %r", error)
        return Unavailable(DATABASE_UNAVAILABLE)
    return None


@dataclass(slots=True, eq=False)
class _Call:
    """One service call of a shared trip (`SharedTrips`), in the context it was asked for in
    (its request's log fields, its operation's trace span), and what it came to."""

    service: Callable[[Runner], Any]
    context: contextvars.Context
    answer: "asyncio.Future[Any]"
    value: Any = None
    error: Exception | None = None


def _each(runner: Runner, calls: list[_Call]) -> None:
    """Every call of a trip in turn on one runner, each in its own context, each one's error its
    own (a failed statement leaves the connection usable; a lost one, the runner replaces)."""
    for call in calls:
        try:
            call.value = call.context.run(call.service, runner)
        except Exception as error:
            call.error = error


class SharedTrips:
    """One GraphQL request's (or live socket's) way to the `Database`: the units of work it asks
    for in the same turn of the event loop run one after another in one worker thread, on one
    connection.

    GraphQL starts an operation's root fields, and a batch's operations, at once, and each asked
    for its own unit: the `gql_batch` of the bench (the user, the task counts, a page) paid three
    thread hops and three pool checkouts, running in three threads that contend for the GIL.
    Here a unit asked for waits one turn of the loop, so that the others started beside it join;
    then one trip runs them all. Each call still gets its own answer or its own error, as
    `Database.run` would give it; a trip's deadline is the database's, for all of them. Writes
    go alone (`write`): mutations run one after another anyway.

    So one request holds one connection at a time, where a batch's fields could take as many as
    the pool has. The most a request can put on one trip is bounded by the document limits
    (30 aliases a document, 10 operations a batch, 5,000 objects in all): see
    `test_the_largest_batch_of_units_fits_one_trip`.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._boarding: list[_Call] = []
        self._trips: set[asyncio.Task[None]] = set()  # held, so that none is collected midway

    async def run(
        self, service: Callable[Concatenate[Runner, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`service(runner, *args, **kwargs)`, on the trip of this turn of the loop."""
        return await self.board(service, *args, **kwargs)

    def board(
        self, service: Callable[Concatenate[Runner, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> "asyncio.Future[T]":
        """`run`, boarded at once: the future of its answer (to await together with others)."""
        loop = asyncio.get_running_loop()
        if not self._boarding:
            loop.call_soon(self._depart)

        def unit(runner: Runner) -> T:
            return service(runner, *args, **kwargs)

        answer: asyncio.Future[T] = loop.create_future()
        self._boarding.append(_Call(unit, contextvars.copy_context(), answer))
        return answer

    async def write(
        self,
        service: Callable[Concatenate[Runner, TokenClaims, P], T],
        viewer: TokenClaims,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`Database.write`: a trip of its own."""
        return await self._db.write(service, viewer, *args, **kwargs)

    def _depart(self) -> None:
        calls, self._boarding = self._boarding, []
        trip = asyncio.create_task(self._travel(calls))
        self._trips.add(trip)
        trip.add_done_callback(self._trips.discard)

    async def _travel(self, calls: list[_Call]) -> None:
        """Run `calls` and answer each; if the trip itself fails (`Unavailable`), so do they."""
        try:
            await self._db.run(_each, calls)
        except Exception as error:
            for call in calls:
                if not call.answer.done():
                    call.answer.set_exception(error)
            return
        for call in calls:
            if call.answer.done():  # its caller stopped waiting
                continue
            if call.error is None:
                call.answer.set_result(call.value)
            else:
                call.answer.set_exception(_unavailable(call.error) or call.error)
