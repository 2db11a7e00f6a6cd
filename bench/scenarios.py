"""What the bench sends: the accounts and tasks it seeds through each system's own API, and one
request per scenario, each checked once before it gets any load."""

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import orjson
import sqlalchemy as sa

from app.services.cursors import encode_cursor
from app.services.tasks import LISTING_ORDER
from bench.wrk import Request
from models import Task

PASSWORD = "Bench-Passw0rd"
LIST_TASKS, LIST_COMPLETED = 50, 10
DEEP_TASKS, DEEP_START = 10_000, 9_950  # the deep page starts at this task (1-based)

GQL_LIST = "query { tasks(first: 50) { nodes { id title completed createdAt owner { name } } } }"
GQL_BATCH = [
    {"query": "query { me { id email name } }"},
    {"query": "query { taskStats { total completed pending } }"},
    {"query": "query { tasks(first: 20) { nodes { id title completed } } }"},
]
GQL_PAGE = """query ($after: String) { tasks(first: 50, after: $after) {
  nodes { id title completed } pageInfo { hasNextPage endCursor } } }"""
# PostGraphile's generated schema for the same reads (it has no authentication: the user's id is
# a variable); batching is its --enable-query-batching.
PG4_LIST = """query ($u: UUID!) { allTasks(first: 50, condition: {userId: $u},
  orderBy: [COMPLETED_ASC, CREATED_AT_DESC, ID_DESC]) {
  nodes { id title completed createdAt userByUserId { name } } } }"""
PG4_BATCH = [
    "query ($u: UUID!) { userById(id: $u) { id email name } }",
    """query ($u: UUID!) { total: allTasks(condition: {userId: $u}) { totalCount }
      completed: allTasks(condition: {userId: $u, completed: true}) { totalCount } }""",
    """query ($u: UUID!) { allTasks(first: 20, condition: {userId: $u},
      orderBy: [COMPLETED_ASC, CREATED_AT_DESC, ID_DESC]) { nodes { id title completed } } }""",
]

_tasks = Task.metadata.tables[Task.__tablename__]  # the floor and the tutorial app share it


@dataclass(frozen=True)
class Account:
    email: str
    user_id: uuid.UUID
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def account(client: httpx.Client, label: str) -> Account:
    email = f"{label}@bench.example"
    client.post(
        "/api/auth/signup", json={"email": email, "name": label.title(), "password": PASSWORD}
    )
    tokens = client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()
    claims = orjson.loads(_b64(tokens["access_token"].split(".")[1]))
    return Account(email, uuid.UUID(claims["sub"]), tokens["access_token"])


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def seed_list(client: httpx.Client, lister: Account, database_url: str) -> None:
    """The lister's 50 tasks through the API; 10 of them completed."""
    ids = [
        client.post("/api/tasks", json={"title": f"task {n}"}, headers=lister.bearer).json()["id"]
        for n in range(LIST_TASKS)
    ]
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:  # the floor and the tutorial app have no toggle route
        connection.execute(
            sa.update(_tasks).where(_tasks.c.id.in_(ids[:LIST_COMPLETED])).values(completed=True)
        )
    engine.dispose()


def bulk_tasks(database_url: str, user_id: uuid.UUID, count: int) -> None:
    """`count` tasks of one user straight into the table, then ANALYZE-equivalent statistics."""
    engine = sa.create_engine(database_url)
    rows = [
        {"user_id": user_id, "title": f"bulk {n}", "description": "", "completed": n % 5 == 0}
        for n in range(count)
    ]
    with engine.begin() as connection:
        now = sa.func.now()
        connection.execute(sa.insert(_tasks).values(created_at=now, updated_at=now), rows)
    engine.dispose()


def deep_cursor(database_url: str, user: Account, secret: str) -> tuple[str, int]:
    """The cursor the service would give after task DEEP_START - 1, and the id of the next task."""
    engine = sa.create_engine(database_url)
    columns = (_tasks.c.id, _tasks.c.completed, _tasks.c.created_at)
    with engine.connect() as connection:
        before, after = connection.execute(
            sa.select(*columns)
            .where(_tasks.c.user_id == user.user_id)
            .order_by(*LISTING_ORDER)
            .offset(DEEP_START - 2)
            .limit(2)
        ).all()
    engine.dispose()
    return encode_cursor(before._asdict(), user.user_id, secret), after.id


@dataclass(frozen=True)
class Scenario:
    name: str
    system: str
    request: Request
    check: Callable[[httpx.Response], str | None]
    storm: Request | None = None  # sent at the same time by a second wrk
    logins: bool = False  # queued logins outlast wrk: let them finish before measuring on
    writes: bool = False  # adds rows: refresh the planner's statistics after it


def _json(path: str, account: Account, body: object, graphql: bool = True) -> Request:
    headers = {**account.bearer, "Content-Type": "application/json"}
    return Request("POST", path, headers, orjson.dumps(body).decode(), graphql=graphql)


def expect(
    status: int, test: Callable[[object], bool] = lambda _: True
) -> Callable[..., str | None]:
    def check(response: httpx.Response) -> str | None:
        if response.status_code != status or not test(response.json()):
            return f"status {response.status_code}: {response.text[:200]}"
        return None

    return check


def _nodes(count: int, first_id: int | None = None) -> Callable[[object], bool]:
    def test(body: object) -> bool:
        nodes = body["data"]["tasks"]["nodes"]  # type: ignore[index]
        return len(nodes) == count and (first_id is None or nodes[0]["id"] == first_id)

    return test
