"""The engine, and what makes SQLite answer like PostgreSQL (the SQLite half of
`app.unicode_lower` among it)."""

import sqlite3
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event

from app.settings import Settings

# The isolation level of a transaction on each database (their defaults).
TRANSACTION_ISOLATION = {"postgresql": "READ COMMITTED", "sqlite": "SERIALIZABLE"}
SQLITE_BUSY_SECONDS = 15


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_db_engine(settings: Settings, *, autocommit: bool = False) -> Engine:
    """The engine for `settings.database_url`; with `autocommit`, every connection commits each
    statement on its own (no BEGIN, no ROLLBACK), which `Database` undoes for transactions.
    JSON columns (a task's tags) are read and written with orjson: the standard library's
    decoder cost more than the rest of a row."""
    isolation: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    isolation |= {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if settings.is_sqlite:
        engine = create_engine(
            settings.database_url,
            # `timeout`: how long a statement waits for another connection's write lock.
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
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
    connection.create_function("unicode_lower", 1, _lower, deterministic=True)


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None
