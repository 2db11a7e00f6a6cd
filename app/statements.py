"""Statements compiled once and run on the driver's own cursor: the unit of work of `Database.run`.

The services build each statement they run once, at import (or once per shape, cached), as a
SQLAlchemy expression with bound parameters. Running one through `Connection.execute` still costs
an execution context, a result object and a row object per row: more Python than the driver's
whole round trip, paid again under load in contention for the GIL. Measured on the task list (the
same two statements either way, one run against the floor): about 0.5 of the floor's requests per
second through `Connection.execute`, 0.57 through the driver's cursor.

So `Runner` compiles each statement once per database, with SQLAlchemy's compiler and its column
types' own bind and result processors, and runs the compiled text on the DBAPI cursor of a pooled
connection. No SQL is written by hand: the text is SQLAlchemy's, the values are always bound.

A statement whose last RETURNING column is `announce(...)` announces a live event
(`app.events`): the Runner strips that column from its rows and, on SQLite (no `NOTIFY`), hands
the payloads to its `AfterCommit` hook once the write has committed (the runtime wires it to the
process's broker).

A connection found dead (the server restarted) is discarded; a read is then retried once on a fresh
one, a write is not (it may have run) and answers `connection_invalidated`. Inside a transaction
nothing is retried.
"""

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from opentelemetry.trace import Tracer
from prometheus_client import Counter
from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection, IsolationLevel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from app.engine import TRANSACTION_ISOLATION
from app.prepared import Prepared, PreparedStatements, Row, Statement
from app.tracing import statement_span


class AfterCommit:
    """What a database whose events this process hands over itself (SQLite: no `NOTIFY`) does
    with them: `call` takes the `announce` payloads of each write once it has committed.

    SQLite has one writer at a time; `ordering` is held from a write to its call (for a
    transaction: from its start to its commit), so the calls come in commit order. One per
    database, shared by its runners."""

    def __init__(self, call: Callable[[list[str]], None]) -> None:
        self.call = call
        self.ordering = threading.Lock()


class Runner:
    """A pooled connection that runs prepared statements, each committing on its own, or, inside
    `transaction()`, together.

    `prepared` is the database's cache of compiled statements (`PreparedStatements`): a
    statement built once (or once per shape, cached) is compiled once while it is used; one
    built per call would be compiled on every call.
    `after_commit` takes the events of writes on SQLite (None on PostgreSQL, where `NOTIFY`
    carries them).
    """

    def __init__(
        self,
        engine: Engine,
        prepared: PreparedStatements,
        after_commit: AfterCommit | None = None,
        published: Counter | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._tracer = tracer  # a span per statement (`app.tracing`); None: no tracing
        self._engine = engine
        self._published = published  # counts the events of committed writes
        self._events = 0  # events of the transaction, counted at its commit
        self._dialect = engine.dialect
        self._prepared = prepared
        self._after_commit = after_commit
        self._connection = self._connect()
        self._in_transaction = False
        self._announced: list[str] = []  # payloads of the transaction, handed over at its commit

    def close(self) -> None:
        self._connection.close()  # back to the pool

    @property
    def dialect_name(self) -> str:
        return str(self._dialect.name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """The statements run inside form one transaction: committed when the block ends, rolled
        back when it raises. The connection leaves autocommit the way SQLAlchemy itself switches
        isolation levels (the dialect's own calls), and goes back to it afterwards.

        On SQLite the transaction takes its lock at its first write (the driver begins it there),
        so a block that must read what it then writes reads with a statement that writes.
        A block inside another is part of the outer transaction.
        """
        if self._in_transaction:
            yield
            return
        if self._after_commit is None:
            with self._transaction():
                yield
            return
        with self._after_commit.ordering:
            with self._transaction():
                yield
            self._hand_over(self._after_commit)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        dialect = self._dialect
        isolation = cast(IsolationLevel, TRANSACTION_ISOLATION[dialect.name])
        dialect.set_isolation_level(self._dbapi_connection(), isolation)
        self._in_transaction = True
        try:
            yield
            dialect.do_commit(self._connection)
            self._count_events()
        except BaseException:
            self._announced.clear()  # rolled back: nothing to announce
            self._events = 0
            with contextlib.suppress(dialect.loaded_dbapi.Error):
                dialect.do_rollback(self._connection)
            raise
        finally:
            self._in_transaction = False
            dialect.set_isolation_level(self._dbapi_connection(), "AUTOCOMMIT")

    def _dbapi_connection(self) -> DBAPIConnection:
        found = self._connection.dbapi_connection
        assert found is not None  # a checked-out connection always has one
        return found

    def all(self, statement: Statement, values: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row the statement answers (none for a statement without RETURNING)."""
        prepared = self._prepared.of(statement, self._dialect)
        parameters = prepared.parameters(values or {})
        if not prepared.announces:
            return self._run(prepared, parameters)
        if self._after_commit is None or self._in_transaction:
            return self._announcing(self._run(prepared, parameters))
        with self._after_commit.ordering:
            rows = self._announcing(self._run(prepared, parameters))
            self._hand_over(self._after_commit)
            return rows

    def _announcing(self, rows: list[Row]) -> list[Row]:
        """The rows without their `announce` column; its payloads kept for `after_commit`."""
        if self._after_commit is not None:
            self._announced.extend(row[-1] for row in rows)
        self._events += len(rows)
        if not self._in_transaction:
            self._count_events()
        return [row[:-1] for row in rows]

    def _count_events(self) -> None:
        if self._published is not None and self._events:
            self._published.inc(self._events)
        self._events = 0

    def _hand_over(self, after_commit: AfterCommit) -> None:
        """Hand the committed writes' payloads to `after_commit` (under its `ordering`)."""
        announced, self._announced = self._announced, []
        after_commit.call(announced)

    def _run(self, prepared: Prepared, parameters: dict[str, Any] | tuple[Any, ...]) -> list[Row]:
        try:
            return prepared.convert(self._execute(prepared.sql, parameters))
        except self._dialect.loaded_dbapi.Error as error:
            lost = self._dialect.is_disconnect(error, self._connection.dbapi_connection, None)
            if not lost:
                raise self._wrap(error, prepared, parameters) from error
            self._connection.invalidate(error)
            self._connection = self._connect()
            if not prepared.reads or self._in_transaction:
                raise self._wrap(error, prepared, parameters, lost=True) from error
        try:  # a read, once more on a fresh connection
            return prepared.convert(self._execute(prepared.sql, parameters))
        except self._dialect.loaded_dbapi.Error as error:
            raise self._wrap(error, prepared, parameters) from error

    def first(self, statement: Statement, values: Mapping[str, Any] | None = None) -> Row | None:
        rows = self.all(statement, values)
        return rows[0] if rows else None

    def scalar(self, statement: Statement, values: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row; None when there is no row."""
        row = self.first(statement, values)
        return row[0] if row else None

    def _connect(self) -> PoolProxiedConnection:
        """A connection from the pool; a database that cannot be reached raises SQLAlchemy's
        `OperationalError`, as `Engine.connect` would (`raw_connection` leaves it unwrapped)."""
        try:
            return self._engine.raw_connection()
        except self._dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                None, None, error, self._dialect.loaded_dbapi.Error, dialect=self._dialect
            ) from error

    def _execute(self, sql: str, parameters: dict[str, Any] | tuple[Any, ...]) -> list[Row]:
        with statement_span(self._tracer, self.dialect_name, sql):
            cursor = self._connection.cursor()
            try:
                cursor.execute(sql, parameters)
                return cast(list[Row], cursor.fetchall()) if cursor.description else []
            finally:
                cursor.close()

    def _wrap(
        self,
        error: Exception,
        prepared: Prepared,
        parameters: dict[str, Any] | tuple[Any, ...],
        *,
        lost: bool = False,
    ) -> BaseException:
        """The driver's error as SQLAlchemy raises it (`OperationalError`, `IntegrityError`, ...),
        so callers handle one family of errors whichever way a statement ran."""
        return DBAPIError.instance(
            prepared.sql,
            parameters,
            error,
            self._dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=self._dialect,
        )
