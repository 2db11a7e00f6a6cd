"""Live events: what a committed write announces, and how its statement announces it.

A write announces itself in its own statement: the statement's last RETURNING column is
`announce(...)`, so there is no event without the write, nor a write without its event.

- On PostgreSQL the column is `pg_notify(...)`: the notification is queued by the writing
  transaction and delivered, to every instance that listens (`app.listener`), only when that
  transaction commits; a rolled-back write sends nothing. Notifications are delivered in commit
  order, and a task's row lock orders its writes, so the events of one task arrive in version order.
- On SQLite (one process) the column is the event's payload itself, and the `Runner` that ran the
  statement hands it to the process's `Broker` once the write has committed
  (`app.statements.Runner`).

Payloads are small (a kind, a user, an id, a version, a time: about 100 bytes, far under
`NOTIFY`'s 8,000): a subscriber reads the task itself, through the same rules as any read.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, cast, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

# Channels are per database: instances of one service (one database) share it, and nothing else.
CHANNEL = "todo_events"


class TaskEventKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"  # moved to the trash
    RESTORED = "RESTORED"  # back from the trash
    PURGED = "PURGED"  # gone for good; the event carries its last version


# Not a task's: the sessions named by `task_id`'s place are gone (see `SessionEnded`).
SESSION_ENDED_KIND = "SESSION_ENDED"


@dataclass(frozen=True, slots=True)
class TaskEvent:
    kind: TaskEventKind
    user_id: uuid.UUID
    task_id: int
    version: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """A session ended (logout, revocation, password change, account deletion, a replayed
    refresh token): its sockets close."""

    user_id: uuid.UUID
    session_id: uuid.UUID


Event = TaskEvent | SessionEnded


class announce(FunctionElement[Any]):  # noqa: N801 (used like a SQL function)
    """`announce(kind, user_id, subject, version, at)`: the event of the row a statement wrote,
    as the last column of its RETURNING. See the module's docstring."""

    type = NullType()
    inherit_cache = True

    def __init__(
        self,
        kind: str,
        user_id: ColumnElement[Any],
        subject: ColumnElement[Any],
        version: ColumnElement[Any] | int,
        at: ColumnElement[Any],
    ) -> None:
        version = literal(version) if isinstance(version, int) else version
        super().__init__(cast(literal(kind), Text), user_id, subject, version, at)


@compiles(announce, "postgresql")
def _notify(element: announce, compiler: SQLCompiler, **kw: Any) -> str:
    payload = f"CAST(json_build_array({compiler.process(element.clauses, **kw)}) AS TEXT)"
    return f"pg_notify('{CHANNEL}', {payload})"


@compiles(announce, "sqlite")
def _payload(element: announce, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array({compiler.process(element.clauses, **kw)})"


def parse(payload: str) -> Event:
    """The event of an `announce` payload (a JSON array), from either database."""
    kind, user_id, subject, version, at = orjson.loads(payload)
    if kind == SESSION_ENDED_KIND:
        return SessionEnded(user_id=uuid.UUID(user_id), session_id=uuid.UUID(subject))
    when = datetime.fromisoformat(at)
    return TaskEvent(
        kind=TaskEventKind(kind),
        user_id=uuid.UUID(user_id),
        task_id=int(subject),
        version=int(version),
        at=when if when.tzinfo else when.replace(tzinfo=UTC),  # SQLite keeps naive UTC
    )
