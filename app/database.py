"""The engine, sessions, and what makes SQLite answer like PostgreSQL."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import functions
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, String

from app.settings import Settings
from models.task import LISTING_INDEX


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


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for one unit of work; the service commits, anything unfinished rolls back."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
