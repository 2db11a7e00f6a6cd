"""Fixtures: every test gets the real app on a real, empty database.

Tests run on SQLite always and on PostgreSQL too when TEST_DATABASE_URL is set (a database of
its own is created for the run and dropped afterwards). Each test starts from empty tables.
"""

import copy
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from graphql import DocumentNode
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from strawberry.http import GraphQLRequestData

import models  # noqa: F401 (registers the tables)
from app.factory import create_app
from app.prepared import PreparedStatements
from app.settings import Settings
from app.statements import Runner
from resolvers.context import Context
from resolvers.direct import DirectQueries
from resolvers.router import TodoGraphQLRouter
from resolvers.schema import TodoSchema
from tests.better_auth_server import (  # noqa: F401 (fixtures)
    better_auth,
    better_auth_app,
    better_auth_client,
    better_auth_server,
)
from tests.support import Account, agreeing_answers, is_query, register, response_bytes

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-signing-key-that-is-long-enough-0123456789"
BACKENDS = ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


@contextmanager
def empty_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on TEST_DATABASE_URL's server, dropped on exit."""
    admin_url = Settings(database_url=os.environ["TEST_DATABASE_URL"]).database_url
    name = f"todo_api_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated to head, dropped at the end."""
    with empty_postgres_database() as url:
        migrate(url)
        yield url


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(SQLModel.metadata.tables)  # every table, so none is ever forgotten
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        _empty_postgres(url)
        return url
    url = f"sqlite:///{tmp_path / 'test.db'}"
    engine = create_engine(url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "jwt_secret": TEST_SECRET,
            "bcrypt_rounds": 4,
            "dev_secret_file": tmp_path / "dev-secret",
            # Every test client comes from one address; the per-address limits have tests of
            # their own, which set them low.
            "signup_max_per_address": 10_000,
            "login_max_failures_per_address": 10_000,
        }
        return Settings(**(values | overrides))

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def runner(app: FastAPI) -> Iterator[Runner]:
    """A runner on the test database's pooled engine, as `Database.run` hands services one."""
    found = Runner(app.state.runtime.db.engine, PreparedStatements())
    yield found
    found.close()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement the services send to the driver, in order."""
    seen: list[str] = []
    execute = Runner._execute

    def record(runner: Runner, sql: str, parameters: Any) -> list[Any]:
        seen.append(sql)
        return execute(runner, sql, parameters)

    monkeypatch.setattr(Runner, "_execute", record)
    return seen


@pytest.fixture
def alice(client: TestClient) -> Account:
    return register(client, "alice@example.com")


@pytest.fixture
def bob(client: TestClient) -> Account:
    return register(client, "bob@example.com")


# False while a request holds an operation other than a query: a batch's mutation may commit
# between its query's two executions, and then the two answers rightly differ.
_only_queries: ContextVar[bool] = ContextVar("only_queries", default=False)


@pytest.fixture(autouse=True)
def executors_agree(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query any test sends to `/graphql` in a request of queries only is run once more
    with graphql-core's executor alone (a copy of the schema without plans, through Strawberry's
    `execute` where the router took the direct way, `resolvers.direct`); the two answers must be
    the same bytes (`agreeing_answers`: tried again, both ways, where concurrent fields raced).
    So each GraphQL test is also a test of `resolvers.plans` and the direct way. Not where a
    test counts statements."""
    if "statements" in request.fixturenames:
        return
    execute, execute_operation = TodoSchema.execute, TodoGraphQLRouter.execute_operation
    execute_directly = DirectQueries.execute

    async def execute_twice(
        schema: TodoSchema, query: str | None, *args: Any, **kwargs: Any
    ) -> Any:
        result = await execute(schema, query, *args, **kwargs)
        operation_name = kwargs.get("operation_name", args[3] if len(args) > 3 else None)
        if schema.plans is not None and _only_queries.get() and is_query(query, operation_name):
            unplanned = copy.copy(schema)
            unplanned.plans = None
            kept = [result]  # the answer the test gets is the first one compared

            async def with_plans() -> bytes:
                answer = kept.pop() if kept else await execute(schema, query, *args, **kwargs)
                return response_bytes(answer)

            async def without() -> bytes:
                return response_bytes(await execute(unplanned, query, *args, **kwargs))

            planned, again = await agreeing_answers(with_plans, without)
            assert planned == again, query
        return result

    async def execute_marked(router: TodoGraphQLRouter, **kwargs: Any) -> Any:
        data = kwargs["request_data"]
        operations = data if isinstance(data, list) else [data]
        queries = all(is_query(each.query, each.operation_name) for each in operations)
        token = _only_queries.set(queries)
        try:
            return await execute_operation(router, **kwargs)
        finally:
            _only_queries.reset(token)

    async def execute_directly_twice(
        direct: DirectQueries,
        document: DocumentNode,
        operation: GraphQLRequestData,
        context: Context,
    ) -> Any:
        """The router's direct way with plans against Strawberry's way without them."""
        result = await execute_directly(direct, document, operation, context)
        unplanned = copy.copy(direct.schema)
        unplanned.plans = None
        kept = [result]

        async def straight() -> bytes:
            answer = (
                kept.pop() if kept else await execute_directly(direct, document, operation, context)
            )
            return response_bytes(answer)

        async def strawberrys() -> bytes:
            answer = await execute(
                unplanned,
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
            )
            return response_bytes(answer)

        direct_answer, strawberry_answer = await agreeing_answers(straight, strawberrys)
        assert direct_answer == strawberry_answer, operation.query
        return result

    monkeypatch.setattr(TodoSchema, "execute", execute_twice)
    monkeypatch.setattr(TodoGraphQLRouter, "execute_operation", execute_marked)
    monkeypatch.setattr(DirectQueries, "execute", execute_directly_twice)
