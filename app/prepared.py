"""Statements as one dialect runs them (`Prepared`), and a database's bounded cache of them
(`PreparedStatements`), for `app.statements.Runner`."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from app.events import announce

# Compiled statements a database keeps (`PreparedStatements`): the services' fixed ones (fewer
# than 100) and the listing shapes in use. 30 KB each, 130 KB for a listing of 20 tags: at
# most about 75 MB (measured), where a miss costs a compile of a few ms.
STATEMENTS_KEPT = 512

AnySelect = Select[*tuple[Any, ...]]
Statement = AnySelect | UpdateBase
Processor = Callable[[Any], Any]
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Prepared:
    """A statement as one dialect runs it: its text, and how values go in and rows come out."""

    sql: str
    compiled: SQLCompiler
    names: tuple[str, ...] | None  # the order of the values, for positional drivers (SQLite)
    binds: tuple[tuple[str, Processor], ...]  # the values that need converting for the driver
    columns: tuple[tuple[int, Processor], ...]  # the columns that need converting, by position
    reads: bool  # a SELECT: running it again changes nothing
    announces: bool  # its last column is `announce(...)`

    @classmethod
    def of(cls, statement: Statement, dialect: Dialect) -> "Prepared":
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("statements rendered at execution (expanding IN) are not supported")
        binds: dict[str, Processor] = {}  # by name: a name bound twice is converted once
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds.setdefault(compiled.escaped_bind_names.get(name, name), processor)
        exported = list(statement.exported_columns)
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in exported
        )
        columns = tuple((index, p) for index, p in enumerate(processors) if p is not None)
        return cls(
            sql=compiled.string,
            compiled=compiled,
            names=tuple(compiled.positiontup or ()) if compiled.positional else None,
            binds=tuple(binds.items()),
            columns=columns,
            reads=isinstance(statement, Select),
            announces=bool(exported) and isinstance(exported[-1], announce),
        )

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """`values` as the driver takes them; a bound parameter left without one raises."""
        parameters = dict(self.compiled.construct_params(values))
        for name, processor in self.binds:
            parameters[name] = processor(parameters[name])
        if self.names is None:
            return parameters
        return tuple(parameters[name] for name in self.names)

    def convert(self, rows: list[Row]) -> list[Row]:
        """The driver's rows with the values of the columns that need it converted (on
        PostgreSQL, two columns of a task: its priority and its tags). Column by column: with
        `map` over the C lookups that most processors are, no Python runs per value."""
        if not self.columns or not rows:
            return rows
        columns = list(zip(*rows, strict=True))
        for index, processor in self.columns:
            columns[index] = tuple(map(processor, columns[index]))
        return list(zip(*columns, strict=True))


class PreparedStatements:
    """A database's compiled statements, keyed by statement: the `size` most recently run.

    Most statements are built once, at import; a listing's are built per shape (its filters,
    its order, its segment), and a client can name a new shape on every request: 5,040 filter
    shapes times 11 orders over REST alone. Unbounded, each new one stayed, compiled, for the
    life of the process (130 MB more resident after 2,000 shapes, measured, and growing).
    Evicting the least recently run one costs a compile if it comes back. The database's
    worker threads share it: a lock guards it, never held while a statement compiles.
    """

    def __init__(self, size: int = STATEMENTS_KEPT) -> None:
        self.size = size
        self._kept: OrderedDict[Statement, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def of(self, statement: Statement, dialect: Dialect) -> Prepared:
        with self._lock:
            prepared = self._kept.get(statement)
            if prepared is not None:
                self._kept.move_to_end(statement)
                return prepared
        prepared = Prepared.of(statement, dialect)
        with self._lock:
            self._kept[statement] = prepared
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return prepared
