"""The engine, sessions, and what makes SQLite answer like PostgreSQL."""

import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from anyio import to_thread
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import functions
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, String

from app.errors import Unavailable
from app.settings import Settings
from models.task import LISTING_INDEX

T = TypeVar("T")
logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly"


def create_db_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        engine = create_engine(
            settings.database_url,
            connect_args={"check_same_thread": False, "timeout": 15},
        )
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_recycle=settings.pool_recycle,
        pool_pre_ping=True,
        connect_args={"connect_timeout": settings.db_connect_timeout},
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


def ping(*, session: Session) -> None:
    session.execute(text("SELECT 1"))


class Database:
    """Runs synchronous services off the event loop, each call with a session of its own.

    Both doors call services through `run`: one worker-thread hop per unit of work, a session
    never shared between concurrent calls (GraphQL runs fields and batched operations at once),
    and the connection back in the pool as soon as the call returns. Services commit their
    writes; anything left unfinished is rolled back when the session closes.
    """

    def __init__(self, engine: Engine, timeout: float) -> None:
        self.engine = engine
        self.timeout = timeout

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    async def run(self, service: Callable[..., T], /, **kwargs: Any) -> T:
        """`service(session=..., **kwargs)` in a worker thread, answered within `timeout`.

        A database that cannot be reached, has no free connection, or stops answering (a frozen
        server never closes the socket, so only a deadline notices) raises `Unavailable`. A thread
        stuck on a frozen server is abandoned; it ends when the server answers or goes away.
        """

        def call() -> T:
            with self.session() as session:
                return service(session=session, **kwargs)

        try:
            with anyio.fail_after(self.timeout):
                return await to_thread.run_sync(call, abandon_on_cancel=True)
        except (TimeoutError, OperationalError, PoolTimeoutError) as error:
            logger.warning("database unavailable: %r", error)
            raise Unavailable(DATABASE_UNAVAILABLE) from None
        except DBAPIError as error:
            if error.connection_invalidated:
                logger.warning("database connection lost: %r", error)
                raise Unavailable(DATABASE_UNAVAILABLE) from None
            raise
