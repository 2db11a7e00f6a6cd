"""The engine, sessions, and what makes SQLite answer like PostgreSQL."""

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio
from anyio import to_thread
from sqlalchemy import Engine, create_engine, event, literal, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import functions
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, String

from app.errors import Unavailable
from app.settings import Settings
from app.statements import Prepared, Runner, Statement
from models.task import LISTING_INDEX

T = TypeVar("T")
P = ParamSpec("P")
logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly"


# The isolation level of a transaction on each database (their defaults).
TRANSACTION_ISOLATION = {"postgresql": "READ COMMITTED", "sqlite": "SERIALIZABLE"}


def create_db_engine(settings: Settings, *, autocommit: bool = False) -> Engine:
    """The engine for `settings.database_url`; with `autocommit`, every connection commits each
    statement on its own (no BEGIN, no ROLLBACK), which `Database` undoes for transactions."""
    isolation = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if settings.is_sqlite:
        engine = create_engine(
            settings.database_url,
            connect_args={"check_same_thread": False, "timeout": 15},
            **isolation,
        )
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    # No overflow: `Database` runs at most `pool_size` units at once, so a connection is always
    # free, and steady load never opens (and closes) one. No pre-ping either: it cost a round trip
    # per unit; a connection that died is found by its first statement instead, and SQLAlchemy then
    # replaces every pooled connection older than it (that unit answers 503).
    return create_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.pool_timeout,
        pool_recycle=settings.pool_recycle,
        pool_pre_ping=settings.pool_pre_ping,
        # Sessions in UTC: timestamps then arrive in UTC, with nothing to convert (`UTCDateTime`).
        connect_args={"connect_timeout": settings.db_connect_timeout, "options": "-c timezone=UTC"},
        **isolation,
    )


def _configure_sqlite(connection: sqlite3.Connection, _record: Any) -> None:
    """Runs on every new SQLite connection: foreign keys (off by default), and Unicode lower()."""
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA busy_timeout = 15000")
    connection.create_function("unicode_lower", 1, _lower, deterministic=True)


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


class unicode_lower(functions.GenericFunction[str]):  # noqa: N801 (SQL function name)
    """Full Unicode lower case, the same on both databases.

    SQLite's lower() folds ASCII only and PostgreSQL's follows the database locale (ASCII only under
    C.UTF-8), so SQLite gets Python's `str.lower` and PostgreSQL the ICU root collation; both apply
    the full Unicode case mapping.
    """

    type = String()
    inherit_cache = True


@compiles(unicode_lower, "postgresql")
def _lower_postgresql(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "und-x-icu")'


def include_in_autogenerate(
    _obj: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """Alembic cannot reflect the DESC expression index on SQLite, so autogenerate would drop and
    re-create it every time; it is written by hand in the migration and checked by a test."""
    return not (type_ == "index" and name == LISTING_INDEX)


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
    - `run` gives the service a transaction: it commits what it writes, and whatever it leaves
      unfinished is rolled back when the session closes.

    `engine` is in autocommit mode (`create_db_engine(..., autocommit=True)`), the common case;
    `run` switches its connection to a transaction and back, which costs a little more.

    A unit holds a thread and a connection from start to end, so at most `threads` units run at
    once (the pool's size): none ever waits for a connection while holding a thread.
    """

    def __init__(self, engine: Engine, timeout: float, threads: int) -> None:
        self.engine = engine
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
            runner = Runner(self.engine, self._prepared)
            try:
                return service(runner, *args, **kwargs)
            finally:
                runner.close()

        return await self._call(each_statement)

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
