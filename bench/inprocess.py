"""Measurements made inside this process on the service's own engine, not over the network.

Statements per request: the app is built with `create_app` on the benchmark database and driven by
FastAPI's TestClient; SQLAlchemy events on its engine count, over a few requests after a warm-up,
every SQL statement sent (`before_cursor_execute`) and the round trips around them that are not
statements of the service: the pool's pre-ping on checkout (`SELECT 1`, counted by wrapping the
dialect's `do_ping`), psycopg2's `BEGIN` before the first statement of a transaction (engine
`begin` events), and the `COMMIT` or `ROLLBACK` that ends it (`commit`/`rollback` events).
pg_stat_statements would see the same statements, but it needs `shared_preload_libraries` and a
server restart, which a benchmark has no business doing to a shared PostgreSQL.

EXPLAIN: the keyset query of `app.services.tasks.page_tasks` for a page after a cursor, captured as
the service sends it and run again under `EXPLAIN (ANALYZE, BUFFERS)`.
"""

import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session

from app.main import create_app
from app.services.tasks import page_tasks
from app.settings import Settings
from models.task import TaskFilter

with warnings.catch_warnings():
    # starlette's TestClient announces a move to httpx2; httpx is what the project names.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

WARMUP_REQUESTS = 2
COUNTED_REQUESTS = 10


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any = None


@dataclass(frozen=True)
class StatementCount:
    name: str
    statements: float  # SQL statements per request
    round_trips: float  # statements plus ping, BEGIN and COMMIT/ROLLBACK per request
    pings: float
    transactions: float  # BEGIN plus COMMIT/ROLLBACK
    status: int
    samples: Sequence[str]  # the distinct statements of one request, shortened


class _Counter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.pings = 0
        self._do_ping = engine.dialect.do_ping
        self.begins = 0
        self.ends = 0

    def reset(self) -> None:
        self.statements.clear()
        self.pings = self.begins = self.ends = 0

    def _statement(self, *args: Any) -> None:
        self.statements.append(" ".join(str(args[2]).split()))

    def _ping(self, dbapi_connection: Any) -> bool:
        self.pings += 1
        return bool(self._do_ping(dbapi_connection))

    def _begin(self, *_args: Any) -> None:
        self.begins += 1

    def _end(self, *_args: Any) -> None:
        self.ends += 1

    def __enter__(self) -> "_Counter":
        event.listen(self.engine, "before_cursor_execute", self._statement)
        # The pool's pre-ping calls the dialect directly, with no event: count it by wrapping.
        setattr(self.engine.dialect, "do_ping", self._ping)  # noqa: B010
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._end)
        event.listen(self.engine, "rollback", self._end)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        setattr(self.engine.dialect, "do_ping", self._do_ping)  # noqa: B010
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._end)
        event.remove(self.engine, "rollback", self._end)


def _engine(app: Any) -> Engine:
    """The service's engine, wherever the runtime keeps it (`runtime.db.engine` or `.engine`)."""
    runtime = app.state.runtime
    holder = getattr(runtime, "db", runtime)
    engine: Engine = holder.engine
    return engine


def count_statements(settings: Settings, calls: Sequence[Call]) -> list[StatementCount]:
    app = create_app(settings)
    engine = _engine(app)
    results: list[StatementCount] = []
    with TestClient(app) as client, _Counter(engine) as counter:
        for call in calls:
            status = 0
            for _ in range(WARMUP_REQUESTS):
                client.request(call.method, call.path, headers=dict(call.headers), json=call.body)
            counter.reset()
            for _ in range(COUNTED_REQUESTS):
                response = client.request(
                    call.method, call.path, headers=dict(call.headers), json=call.body
                )
                status = response.status_code
            statements = len(counter.statements) / COUNTED_REQUESTS
            pings = counter.pings / COUNTED_REQUESTS
            transactions = (counter.begins + counter.ends) / COUNTED_REQUESTS
            per_request = counter.statements[: len(counter.statements) // COUNTED_REQUESTS]
            results.append(
                StatementCount(
                    name=call.name,
                    statements=statements,
                    round_trips=statements + pings + transactions,
                    pings=pings,
                    transactions=transactions,
                    status=status,
                    samples=[s[:110] for s in per_request],
                )
            )
    return results


def explain_page(
    settings: Settings, user_id: uuid.UUID, cursor: str, first: int
) -> tuple[str, list[str]]:
    """The keyset query the service sends for the page after `cursor`, and its EXPLAIN ANALYZE."""
    app = create_app(settings)
    engine = _engine(app)
    captured: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        captured.append((str(args[2]), args[3]))

    try:
        with Session(engine) as session:
            event.listen(engine, "before_cursor_execute", capture)
            try:
                page_tasks(
                    session=session,
                    user_id=user_id,
                    task_filter=TaskFilter(),
                    first=first,
                    after=cursor,
                    cursor_key=settings.signing_key,
                )
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            statement, parameters = captured[-1]
            plan = session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
            )
            return statement, [str(row[0]) for row in plan]
    finally:
        engine.dispose()
