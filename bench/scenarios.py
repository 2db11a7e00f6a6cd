"""What the bench sends: the accounts and tasks it seeds through each system's own API, and one
request per scenario, each checked once before it gets any load (see bench/README.md)."""

import hashlib
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import orjson
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bench.wrk import Request
from models import Tag, Task, TaskTag

PASSWORD = "Bench-Passw0rd"
LIST_TASKS, LIST_COMPLETED = 50, 10
TOKENS_LAST = 2 * 60 * 60  # seconds: longer than any run
DEEP_TASKS, DEEP_START = 10_000, 9_950  # the deep page starts at this task (1-based)

GQL_LIST = "query { tasks(first: 50) { nodes { id title completed createdAt owner { name } } } }"
GQL_BATCH = [
    {"query": "query { me { id email name } }"},
    {"query": "query { taskStats { total completed pending } }"},
    {"query": "query { tasks(first: 20) { nodes { id title completed } } }"},
]
GQL_PAGE = """query ($after: String, $first: Int = 50) { tasks(first: $first, after: $after) {
  nodes { id title completed } pageInfo { hasNextPage endCursor } } }"""
GQL_DUE_PAGE = """query ($after: String, $first: Int = 50) { tasks(first: $first, after: $after,
  orderBy: {field: DUE_AT}, filter: {tags: ["bulk"]}) {
  nodes { id title completed dueAt tags } pageInfo { hasNextPage endCursor } } }"""
GQL_LIST_TAGS = (
    "query { tasks(first: 50) { nodes { id title completed createdAt tags owner { name } } } }"
)
TAGS = ["alpha", "beta", "gamma"]
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
_tags = Tag.metadata.tables[Tag.__tablename__]
_task_tags = TaskTag.metadata.tables[TaskTag.__tablename__]


@dataclass(frozen=True)
class Account:
    email: str
    user_id: uuid.UUID
    bearer: dict[str, str]


def account(client: httpx.Client, label: str, secret: str | None = None) -> Account:
    """A signed-up, logged-in account. With the bench's `secret`, which every system shares, its
    access token is signed again to outlast the run: the peers' own expire after 15 minutes,
    less than a full run, and then they answer 401 at once (each an error, and a flattering
    rate)."""
    email = f"{label}@bench.example"
    client.post("/api/auth/signup", json={"email": email, "name": label, "password": PASSWORD})
    login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    token = login.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    if secret is not None:
        claims["exp"] = int(time.time()) + TOKENS_LAST
        token = jwt.encode(claims, secret, algorithm="HS256")
    return Account(email, uuid.UUID(claims["sub"]), {"Authorization": f"Bearer {token}"})


def write(database_url: str, statement: sa.Executable, rows: Any = None) -> None:
    """For what the API cannot do: the floor and the tutorial app have no toggle, and 10,000
    tasks through HTTP would take minutes."""
    engine = sa.create_engine(database_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(statement, rows)


def seed_list(
    client: httpx.Client, lister: Account, database_url: str, tags: list[str] | None = None
) -> None:
    """The lister's 50 tasks through the API (each with `tags`, if given); 10 of them completed."""
    task = {"tags": tags} if tags else {}
    created = [
        client.post("/api/tasks", json={"title": f"task {n}", **task}, headers=lister.bearer)
        for n in range(LIST_TASKS)
    ]
    done = [answer.json()["id"] for answer in created[:LIST_COMPLETED]]
    write(database_url, sa.update(_tasks).where(_tasks.c.id.in_(done)).values(completed=True))


def seed_deep(deep: Account, database_url: str) -> None:
    """DEEP_TASKS tasks for `deep`, each tagged "bulk", four in five with a due date."""
    now = datetime.now(UTC)
    rows = [
        {
            "user_id": deep.user_id, "title": f"bulk {n}", "description": "", "tags": ["bulk"],
            "completed": n % 5 == 0, "created_at": now, "updated_at": now,
            "due_at": None if n % 5 == 1 else now + timedelta(minutes=n % 997),
        }
        for n in range(DEEP_TASKS)
    ]  # fmt: skip
    write(database_url, sa.insert(_tasks), rows)
    write(database_url, sa.insert(_tags).values(user_id=deep.user_id, name="bulk", key="bulk"))
    tagged = (
        sa.select(_tasks.c.id, _tags.c.id)
        .join(_tags, _tags.c.user_id == _tasks.c.user_id)
        .where(_tasks.c.user_id == deep.user_id)
    )
    write(database_url, sa.insert(_task_tags).from_select(["task_id", "tag_id"], tagged))


def deep_cursor(client: httpx.Client, user: Account, query: str) -> tuple[str, int]:
    """The cursor `query` pages give after task DEEP_START - 1 (paged to as a client would), and
    the id of the task after it."""
    after: str | None = None
    seen = 0
    while seen < DEEP_START - 1:
        page = _page(client, user, query, min(500, DEEP_START - 1 - seen), after)
        after, seen = page["pageInfo"]["endCursor"], seen + len(page["nodes"])
    assert after is not None
    return after, _page(client, user, query, 1, after)["nodes"][0]["id"]


def _page(client: httpx.Client, user: Account, query: str, first: int, after: str | None) -> Any:
    body = {"query": query, "variables": {"first": first, "after": after}}
    return client.post("/graphql", json=body, headers=user.bearer).json()["data"]["tasks"]


@dataclass(frozen=True)
class Scenario:
    name: str
    system: str
    request: Request
    check: Callable[[httpx.Response], bool]  # of the one answer sent before the load
    storm: Request | None = None  # sent at the same time by a second wrk
    logins: bool = False  # queued logins outlast wrk: let them finish before measuring on
    writes: bool = False  # adds rows: refresh the planner's statistics after it


def post(path: str, account: Account, body: object, graphql: bool = True) -> Request:
    headers = {**account.bearer, "Content-Type": "application/json"}
    return Request("POST", path, headers, orjson.dumps(body).decode(), graphql=graphql)


def expect(status: int, test: Callable[[Any], bool] = lambda _: True) -> Callable[..., bool]:
    return lambda response: response.status_code == status and test(response.json())


def nodes(count: int, first_id: int | None = None) -> Callable[[Any], bool]:
    def test(body: Any) -> bool:
        found = body["data"]["tasks"]["nodes"]
        return len(found) == count and first_id in (None, found[0]["id"])

    return test


def seed(
    client: httpx.Client,
    system: str,
    database_url: str,
    secret: str,
    better_auth_url: str | None = None,
) -> list[Scenario]:
    """Accounts and tasks through `system`'s own API, and the scenarios they serve: rest_list and
    rest_create on every uvicorn system (only rest_list with two workers, to compare with one
    worker's), gql_list and gql_batch on the tutorial app too, and the rest on the service, with
    PostGraphile's on the service's database (and with a Better Auth server, the list with its
    token)."""
    lister, creator = account(client, "lister", secret), account(client, "creator", secret)
    seed_list(client, lister, database_url)
    body = {"title": "bench task", "description": "created under load"}
    found = [
        Scenario("rest_list", system, Request("GET", "/api/tasks", lister.bearer),
                 expect(200, lambda answer: len(answer) == LIST_TASKS)),
        Scenario("rest_create", system, post("/api/tasks", creator, body, graphql=False),
                 expect(201), writes=True),
    ]  # fmt: skip
    if system.endswith("-2w"):
        return found[:1]
    if system == "service-quiet":  # request ids, access lines and metrics off: their price
        return [
            found[0],
            Scenario(
                "gql_list",
                system,
                post("/graphql", lister, {"query": GQL_LIST}),
                expect(200, nodes(50)),
            ),
        ]
    if system == "naive":  # its /graphql, the Strawberry-tutorial way, answers the same reads
        fifty = expect(200, nodes(50))
        found += [
            Scenario("gql_list", system, post("/graphql", lister, {"query": GQL_LIST}), fifty),
            Scenario("gql_batch", system, post("/graphql", lister, GQL_BATCH), expect(200)),
        ]
    if system == "service":
        found += service(client, lister, database_url, secret) + postgraphile(lister)
        if better_auth_url is not None:
            found.append(better_auth_list(client, better_auth_url, database_url))
    return found


def better_auth_list(client: httpx.Client, better_auth_url: str, database_url: str) -> Scenario:
    """rest_list with a Better Auth token: one signed by the Better Auth server with its own key
    (its `signJWT`, as its /api/auth/token does), living an hour (the contract's longest) rather
    than 15 minutes, so that it outlives the bench. Its first request makes the user."""
    now = int(datetime.now(UTC).timestamp())
    email = "better-auth@bench.example"
    claims = {"sub": "bench-user", "email": email, "name": "Bench", "iat": now, "exp": now + 3600}
    signed = httpx.post(f"{better_auth_url}/test/sign", json={"claims": claims}, timeout=30)
    bearer = {"Authorization": f"Bearer {signed.json()['token']}"}
    user_id = uuid.UUID(client.get("/api/auth/me", headers=bearer).json()["id"])
    lister = Account(email, user_id, bearer)
    seed_list(client, lister, database_url)
    return Scenario("rest_list_better_auth", "service", Request("GET", "/api/tasks", bearer),
                    expect(200, lambda answer: len(answer) == LIST_TASKS))  # fmt: skip


def persisted(client: httpx.Client, account: Account, query: str) -> Request:
    """`query` registered as an automatic persisted query, and the GET that runs it by hash."""
    hashed = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }
    client.post("/graphql", json={"query": query, "extensions": hashed}, headers=account.bearer)
    path = "/graphql?" + urllib.parse.urlencode({"extensions": orjson.dumps(hashed).decode()})
    return Request("GET", path, account.bearer)


def service(
    client: httpx.Client, lister: Account, database_url: str, secret: str
) -> list[Scenario]:
    """The service's GraphQL reads (one by the hash of a persisted query), its lists with tags,
    its paging from the top and from deep down (in the default order, and by due date with a tag
    filter), and logins."""
    tagger, deep, login = (account(client, label, secret) for label in ("tagger", "deep", "login"))
    seed_list(client, tagger, database_url, tags=TAGS)
    seed_deep(deep, database_url)
    after, next_id = deep_cursor(client, deep, GQL_PAGE)
    due_after, due_next_id = deep_cursor(client, deep, GQL_DUE_PAGE)
    deep_page = post("/graphql", deep, {"query": GQL_PAGE, "variables": {"after": after}})
    due_page = post("/graphql", deep, {"query": GQL_DUE_PAGE})
    due_deep = post("/graphql", deep, {"query": GQL_DUE_PAGE, "variables": {"after": due_after}})
    credentials = {"email": login.email, "password": PASSWORD}
    logins = post("/api/auth/login", login, credentials, graphql=False)
    fifty = expect(200, nodes(50))
    with_tags = expect(200, lambda body: len(body) == LIST_TASKS and body[0]["tags"] == TAGS)
    return [
        Scenario("gql_list", "service", post("/graphql", lister, {"query": GQL_LIST}), fifty),
        Scenario("gql_batch", "service", post("/graphql", lister, GQL_BATCH), expect(200)),
        Scenario("gql_list_by_hash", "service", persisted(client, lister, GQL_LIST), fifty),
        Scenario("first_page", "service", post("/graphql", deep, {"query": GQL_PAGE}), fifty),
        Scenario("deep_page", "service", deep_page, expect(200, nodes(50, next_id))),
        Scenario("rest_list_tags", "service", Request("GET", "/api/tasks", tagger.bearer),
                 with_tags),
        Scenario("gql_list_tags", "service", post("/graphql", tagger, {"query": GQL_LIST_TAGS}),
                 fifty),
        Scenario("due_first_page", "service", due_page, fifty),
        Scenario("due_deep_page", "service", due_deep, expect(200, nodes(50, due_next_id))),
        Scenario("login", "service", logins, expect(200), logins=True),
        Scenario("list_under_login", "service", Request("GET", "/api/tasks", lister.bearer),
                 expect(200), storm=logins, logins=True),
    ]  # fmt: skip


def postgraphile(lister: Account) -> list[Scenario]:
    user = {"u": str(lister.user_id)}
    fifty = expect(200, lambda body: len(body["data"]["allTasks"]["nodes"]) == 50)
    listing = post("/graphql", lister, {"query": PG4_LIST, "variables": user})
    batch = post("/graphql", lister, [{"query": query, "variables": user} for query in PG4_BATCH])
    return [
        Scenario("gql_list", "postgraphile", listing, fifty),
        Scenario("gql_batch", "postgraphile", batch, expect(200)),
    ]
