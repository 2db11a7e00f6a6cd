"""Small helpers the tests share: make an account, log in, send authenticated requests."""

import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from fastapi.testclient import TestClient
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from sqlmodel import Session, select
from starlette.testclient import WebSocketTestSession
from starlette.types import Message
from strawberry.types import ExecutionResult

from app.engine import create_db_engine
from app.settings import Settings
from models import User

PASSWORD = "Correct-Horse-9"


@dataclass
class Account:
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def signup(client: TestClient, email: str, password: str = PASSWORD, name: str = "Ada") -> Any:
    response = client.post(
        "/api/auth/signup", json={"email": email, "name": name, "password": password}
    )
    assert response.status_code == 201, response.text
    return response.json()


def login(client: TestClient, email: str, password: str = PASSWORD) -> Account:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(email, password, tokens["access_token"], tokens["refresh_token"])


def register(client: TestClient, email: str) -> Account:
    signup(client, email)
    return login(client, email)


def create_task(client: TestClient, account: Account, title: str, **fields: Any) -> Any:
    response = client.post("/api/tasks", json={"title": title, **fields}, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    """Direct access to the test database, for arranging what the API cannot (old timestamps)."""
    engine = create_db_engine(settings)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def user_id_of(session: Session, account: Account) -> uuid.UUID:
    return session.exec(select(User.id).where(User.email == account.email)).one()


def graphql(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    account: Account | None = None,
) -> Any:
    """POST one GraphQL operation; returns the decoded body (`data`, `errors`)."""
    headers = account.headers if account else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def error_codes(body: Any) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def _receive(ws: WebSocketTestSession, seconds: float) -> Message | None:
    """The next message the server sent, or None after `seconds` (reads the test client's queue:
    its `receive` has no timeout)."""
    with anyio.move_on_after(seconds):
        message: Message = await ws._send_rx.receive()
        return message
    return None


def close_code(ws: WebSocketTestSession, within: float = 6.0) -> int | None:
    """The code the server closes with (after any messages it still sends), or None when it is
    still open after `within` seconds (the test client's own `receive` would wait forever)."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        message = ws.portal.call(_receive, ws, left)
        if message is None:
            break
        if message["type"] == "websocket.close":
            code: int = message.get("code", 1000)
            return code
    return None


def is_query(document: str | None, operation_name: str | None) -> bool:
    """Whether `document`'s operation `operation_name` is a query (not when it fails to parse
    or has no such operation)."""
    try:
        operation = get_operation_ast(parse(document or ""), operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation is OperationType.QUERY


def response_bytes(result: ExecutionResult) -> bytes:
    """An execution result as its JSON, errors formatted as a client gets them."""
    errors = [error.formatted for error in result.errors] if result.errors else None
    return orjson.dumps({"data": result.data, "errors": errors})


# Root fields run concurrently, each unit in a worker thread: when two fail at once, which error
# comes first (and which one a null at the root keeps) is the threads' race, in either executor
# (measured: 30 runs of one such query, 23 to 7 one way with plans and 26 to 4 without, so one
# pair of runs differs about a third of the time; twenty pairs more all differ about once in a
# billion).
RACES_RETRIED = 20


async def agreeing_answers(
    planned: Callable[[], Awaitable[bytes]], unplanned: Callable[[], Awaitable[bytes]]
) -> tuple[bytes, bytes]:
    """One query's answers from both executors (`response_bytes`), both run again while they
    differ, at most `RACES_RETRIED` times: a race settles the same way sooner or later, a plan
    that answers otherwise never does."""
    answers = await planned(), await unplanned()
    for _ in range(RACES_RETRIED):
        if answers[0] == answers[1]:
            break
        answers = await planned(), await unplanned()
    return answers
