"""`Database`: runs the services' units of work in worker threads, within a deadline."""

import asyncio
import logging
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import anyio
from anyio import to_thread
from sqlalchemy import Engine, literal, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session

from app.broker import Broker
from app.engine import TRANSACTION_ISOLATION
from app.errors import Unavailable
from app.security import TokenClaims
from app.statements import Prepared, Runner, Statement
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

    Both doors call services through `read` or `run`: one worker-thread hop per unit of work, a
    connection never shared between concurrent calls (GraphQL runs fields and batched operations
    at once), and back in the pool as soon as the call returns.

    - `read` gives the service a `Runner`: a connection in autocommit mode that runs prepared
      statements on the driver's cursor. Each statement is a transaction of its own, which saves
      the BEGIN and ROLLBACK round trips. For reads, and for writes that are a single statement
      (an INSERT, an UPDATE ... RETURNING), atomic by themselves.
    - `write` is `read` for a user's change to their tasks (a create, update, toggle, delete,
      restore or purge): the change first takes a place in the user's writes of the minute
      (`USER_WRITES_PER_MINUTE`, across doors and instances), or fails with `RateLimited` and
      runs nothing.
    - `run` gives the service a transaction: it commits what it writes, and whatever it leaves
      unfinished is rolled back when the session closes.

    `engine` is in autocommit mode (`create_db_engine(..., autocommit=True)`), the common case;
    `run` switches its connection to a transaction and back, which costs a little more.

    A unit holds a thread and a connection from start to end, so at most `threads` units run at
    once (the pool's size): none ever waits for a connection while holding a thread.
    """

    def __init__(
        self,
        engine: Engine,
        timeout: float,
        threads: int,
        broker: Broker | None = None,
        writes: Window | None = None,
    ) -> None:
        self.engine = engine
        self._broker = broker  # takes SQLite's events (`Runner`); None on PostgreSQL
        self._writes = writes  # each user's task writes of the minute; None: unlimited
        self.timeout = timeout
        self._transactional = engine.execution_options(
            isolation_level=TRANSACTION_ISOLATION[engine.dialect.name]
        )
        self._threads = anyio.CapacityLimiter(threads)
        self._prepared: dict[Statement, Prepared] = {}  # see `Runner`

    async def run(
        self, service: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`service(session, *args, **kwargs)` in a transaction (an ORM session)."""

        def in_transaction() -> T:
            with Session(self._transactional, expire_on_commit=False) as session:
                return service(session, *args, **kwargs)

        return await self._call(in_transaction)

    async def read(
        self, service: Callable[Concatenate[Runner, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`service(runner, *args, **kwargs)`, each statement committing on its own, run on the
        driver's cursor (`app.statements`: the ORM and Core execution machinery cost more than
        the round trip)."""

        def each_statement() -> T:
            runner = Runner(self.engine, self._prepared, self._broker)
            try:
                return service(runner, *args, **kwargs)
            finally:
                runner.close()

        return await self._call(each_statement)

    async def write(
        self,
        service: Callable[Concatenate[Runner, TokenClaims, P], T],
        viewer: TokenClaims,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`service(runner, viewer, ...)` as `read` runs it, once the viewer's write is counted
        (in the same worker thread: the count may be a round trip to Redis)."""

        def counted(runner: Runner) -> T:
            if self._writes is not None:
                self._writes.claim(str(viewer.user_id))
            return service(runner, viewer, *args, **kwargs)

        return await self.read(counted)

    async def _call(self, unit: Callable[[], T]) -> T:
        """`unit` in a worker thread, answered within `timeout`.

        A database that cannot be reached, has no free connection, or stops answering (a frozen
        server never closes the socket, so only a deadline notices) raises `Unavailable`. A thread
        stuck on a frozen server is abandoned; it ends when the server answers or goes away.
        """
        try:
            async with asyncio.timeout(self.timeout):  # cheaper than anyio's cancel scopes
                return await to_thread.run_sync(unit, abandon_on_cancel=True, limiter=self._threads)
        except (TimeoutError, OperationalError, PoolTimeoutError) as error:
            logger.warning("database unavailable: %r", error)
            raise Unavailable(DATABASE_UNAVAILABLE) from None
        except DBAPIError as error:
            if error.connection_invalidated:
                logger.warning("database connection lost: %r", error)
                raise Unavailable(DATABASE_UNAVAILABLE) from None
            raise
