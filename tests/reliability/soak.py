"""Soak (`make soak`, not a pytest module): minutes of mixed REST and GraphQL load from several
users on a production server with two workers over PostgreSQL; then the database must hold exactly
the acknowledged tasks not acknowledged deleted among its live tasks (owner, an acknowledged title,
the parity of the acknowledged toggles) and the deleted ones in the trash, and each user's GraphQL
pages and REST stats exactly their live rows.
Exits 1 on any 5xx or GraphQL INTERNAL_SERVER_ERROR / SERVICE_UNAVAILABLE, unanswered request,
answer a correct client would not expect, or failed check."""

import argparse
import asyncio
import functools
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from models import Task, User
from tests.reliability.servers import admin_url, fresh_database, production_env, uvicorn_server

PASSWORD = "Soak-Passw0rd"
BAD_GRAPHQL_CODES = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}
# Operation: weight. Creates outweigh deletes, so every user keeps some tasks.
MIX = {
    "rest.create": 14, "rest.list": 14, "rest.get": 8, "rest.update": 8, "rest.toggle": 10,
    "rest.delete": 5, "rest.stats": 6, "graphql.tasks": 10, "graphql.create": 6,
    "graphql.toggle": 6, "graphql.delete": 2, "graphql.batch": 5, "rest.refresh": 1,
    "rest.health": 2,
}  # fmt: skip
PAGE = (
    "query ($first: Int, $after: String) { tasks(first: $first, after: $after) { totalCount "
    "nodes { id title completed owner { email } } pageInfo { hasNextPage endCursor } } }"
)
CREATE = "mutation ($t: String!) { createTask(input: {title: $t}) { id } }"
TOGGLE = "mutation ($id: Int!) { toggleTask(id: $id) { id completed } }"
DELETE = "mutation ($id: Int!) { deleteTask(id: $id) }"
BATCH = [{"query": "{ taskStats { total completed pending } }"}, {"query": "{ me { id } }"}]
log = functools.partial(print, flush=True)


@dataclass
class Ledger:
    """What the service acknowledged, and every answer it gave."""

    owner: dict[int, str] = field(default_factory=dict)  # acknowledged task id -> owner's email
    titles: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    toggles: Counter[int] = field(default_factory=Counter)
    deleted: set[int] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)  # one status or httpx error a request
    codes: Counter[str] = field(default_factory=Counter)  # GraphQL error codes (inside 200s)
    by_op: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)  # unexpected answers, described
    latencies: list[float] = field(default_factory=list)

    def note(self, op: str, outcome: str, graphql_code: bool = False) -> None:
        (self.codes if graphql_code else self.statuses)[outcome] += 1
        self.by_op[op][outcome] += 1


@dataclass
class Client:
    """One connection's worth of a user, with a login (so a refresh chain) of its own."""

    http: httpx.AsyncClient
    email: str
    known: list[int]  # the user's recent task ids, shared by the user's clients
    ledger: Ledger
    rng: random.Random
    tokens: dict[str, str] = field(default_factory=dict)

    async def call(
        self, op: str, method: str, path: str, expected: int = 200, *, missing_ok: bool = False,
        **kwargs: Any,
    ) -> httpx.Response | None:  # fmt: skip
        """The answer if its status is `expected`; otherwise None, and a failure unless it is a
        404 that `missing_ok` allows (another client deleted the task)."""
        headers = {"Authorization": f"Bearer {self.tokens['access_token']}"} if self.tokens else {}
        started = time.monotonic()
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            self.ledger.note(op, type(error).__name__)
            self.ledger.failures.append(f"{op}: no answer ({error!r})")
            return None
        self.ledger.latencies.append(time.monotonic() - started)
        self.ledger.note(op, str(response.status_code))
        if response.status_code == expected:
            return response
        if not (missing_ok and response.status_code == 404):
            self.ledger.failures.append(f"{op}: {response.status_code} {response.text[:200]}")
        return None

    async def graphql(
        self, op: str, query: str | list[Any], variables: Any = None, *, missing_ok: bool = False
    ) -> Any:
        """The answer to `query` (to a batch: the list of answers) if it has no errors; otherwise
        None, and a failure unless every error is a NOT_FOUND that `missing_ok` allows."""
        payload = query if isinstance(query, list) else {"query": query, "variables": variables}
        if (response := await self.call(op, "POST", "/graphql", json=payload)) is None:
            return None
        body = response.json()
        codes = [
            str((error.get("extensions") or {}).get("code"))
            for answer in (body if isinstance(body, list) else [body])
            for error in answer.get("errors") or []
        ]
        for code in codes:
            self.ledger.note(op, code, graphql_code=True)
        if codes and not (missing_ok and set(codes) == {"NOT_FOUND"}):
            self.ledger.failures.append(f"{op}: GraphQL errors {codes}: {str(body)[:200]}")
        return None if codes else body

    async def login(self, signup: bool = False) -> None:
        """Sign the user up first if asked, then log in; raise if either is refused."""
        credentials = {"email": self.email, "password": PASSWORD}
        new = {**credentials, "name": "Soak"}
        if signup and not await self.call("rest.signup", "POST", "/api/auth/signup", 201, json=new):
            raise RuntimeError(f"signup failed: {self.ledger.failures[-1]}")
        if not (
            answer := await self.call("rest.login", "POST", "/api/auth/login", json=credentials)
        ):
            raise RuntimeError(f"login failed: {self.ledger.failures[-1]}")
        self.tokens = answer.json()

    def remember(self, task_id: int, title: str) -> None:
        self.ledger.owner[task_id] = self.email
        self.ledger.titles[task_id].add(title)
        self.known.append(task_id)
        if len(self.known) > 200:  # touch recent tasks; older ones stay as they are
            self.known.pop(0)

    async def step(self, op: str) -> None:
        task = self.rng.choice(self.known) if self.known else None
        path, title = f"/api/tasks/{task}", f"{op} {uuid.uuid4().hex[:12]}"
        if op == "rest.create":
            if response := await self.call(op, "POST", "/api/tasks", 201, json={"title": title}):
                self.remember(response.json()["id"], title)
        elif op == "rest.list":
            params = {"limit": 20, "completed": self.rng.choice(["true", "false"])}
            await self.call(op, "GET", "/api/tasks", params=params)
        elif op in {"rest.stats", "rest.health"}:
            await self.call(op, "GET", "/api/tasks/stats" if op == "rest.stats" else "/api/health")
        elif op == "rest.refresh":
            refresh = {"refresh_token": self.tokens["refresh_token"]}
            if answer := await self.call(op, "POST", "/api/auth/refresh", json=refresh):
                self.tokens = answer.json()
        elif op == "graphql.tasks":
            first = await self.graphql(op, PAGE, {"first": 20})
            if first and (after := first["data"]["tasks"]["pageInfo"]["endCursor"]):
                await self.graphql(op, PAGE, {"first": 20, "after": after})
        elif op == "graphql.create":
            if body := await self.graphql(op, CREATE, {"t": title}):
                self.remember(body["data"]["createTask"]["id"], title)
        elif op == "graphql.batch":
            await self.graphql(op, BATCH)
        elif task is None:
            return
        elif op == "rest.get":
            await self.call(op, "GET", path, missing_ok=True)
        elif op == "rest.update":
            if await self.call(op, "PATCH", path, missing_ok=True, json={"title": title}):
                self.ledger.titles[task].add(title)
        elif op == "rest.toggle":
            if await self.call(op, "PATCH", f"{path}/toggle", missing_ok=True):
                self.ledger.toggles[task] += 1
        elif op == "graphql.toggle":
            if await self.graphql(op, TOGGLE, {"id": task}, missing_ok=True):
                self.ledger.toggles[task] += 1
        elif op == "rest.delete":
            self.known.remove(task)  # picked above, with no await since
            if await self.call(op, "DELETE", path, missing_ok=True):
                self.ledger.deleted.add(task)
        elif op == "graphql.delete":
            self.known.remove(task)
            if await self.graphql(op, DELETE, {"id": task}, missing_ok=True):
                self.ledger.deleted.add(task)


async def load(base: str, args: argparse.Namespace, ledger: Ledger) -> float:
    """Sign the users up, log every client in, then load until the deadline; the seconds run."""
    rng = random.Random(1)  # noqa: S311 (a request mix, not a secret)
    users = {f"soak-{i}-{uuid.uuid4().hex[:8]}@example.com": list[int]() for i in range(args.users)}
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        clients = [
            Client(http, email, users[email], ledger, random.Random(rng.random()))  # noqa: S311
            for email in (list(users)[i % len(users)] for i in range(args.connections))
        ]
        await asyncio.gather(*(client.login(signup=True) for client in clients[: len(users)]))
        await asyncio.gather(*(client.login() for client in clients[len(users) :]))
        started = time.monotonic()

        async def drive(client: Client) -> None:
            while time.monotonic() < started + args.duration:
                await client.step(client.rng.choices(list(MIX), list(MIX.values()))[0])

        await asyncio.gather(*(drive(client) for client in clients))
        return time.monotonic() - started


async def seen_by(client: Client) -> tuple[set[int], dict[str, int]]:
    """The ids of a user's tasks paged through GraphQL 100 at a time, and the user's REST stats."""
    await client.login()
    ids: set[int] = set()
    variables: dict[str, Any] = {"first": 100}
    for _ in range(10_000):  # bounded: a million tasks
        if (answer := await client.graphql("check", PAGE, variables)) is None:
            raise RuntimeError(f"paging failed: {client.ledger.failures[-1]}")
        page = answer["data"]["tasks"]
        ids.update(node["id"] for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]
    stats = await client.call("check", "GET", "/api/tasks/stats")
    if stats is None:
        raise RuntimeError(f"stats failed: {client.ledger.failures[-1]}")
    return ids, stats.json()


async def check(base: str, database_url: str, ledger: Ledger) -> list[str]:
    """What differs between the database (and what each user sees) and what was acknowledged."""
    tasks, users = (Task.metadata.tables[model.__tablename__] for model in (Task, User))
    columns = (tasks.c.id, tasks.c.title, tasks.c.completed, users.c.email, tasks.c.deleted_at)
    with sa.create_engine(database_url, poolclass=NullPool).connect() as connection:
        rows = connection.execute(sa.select(*columns).join(users)).all()
    stored = {row[0]: row[1:4] for row in rows if row[4] is None}  # the live tasks
    trashed = {row[0] for row in rows if row[4] is not None}
    expected = set(ledger.owner) - ledger.deleted
    problems = [
        f"{len(ids)} {what}, e.g. {sorted(ids)[:10]}"
        for what, ids in [
            ("acknowledged tasks lost", expected - set(stored)),
            ("acknowledged deletes undone", ledger.deleted & set(stored)),
            ("acknowledged deletes not in the trash", ledger.deleted - trashed),
            ("stored tasks nobody was told of", (set(stored) | trashed) - set(ledger.owner)),
        ]
        if ids
    ]
    for task_id in sorted(expected & set(stored)):
        title, completed, email = stored[task_id]
        if email != ledger.owner[task_id]:
            problems.append(f"task {task_id} belongs to {email}, not {ledger.owner[task_id]}")
        if completed != (ledger.toggles[task_id] % 2 == 1):
            problems.append(
                f"task {task_id}: completed={completed}, {ledger.toggles[task_id]} toggles"
            )
        if title not in ledger.titles[task_id]:
            problems.append(f"task {task_id}: title {title!r} was never acknowledged")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for email in sorted(set(ledger.owner.values())):
            seen, stats = await seen_by(Client(http, email, [], Ledger(), random.Random()))  # noqa: S311
            mine = {task_id for task_id, row in stored.items() if row[2] == email}
            done = sum(1 for task_id in mine if stored[task_id][1])
            if seen != mine:
                problems.append(f"{email}: GraphQL pages show {len(seen)}, {len(mine)} stored")
            if (stats["total"], stats["completed"]) != (len(mine), done):
                problems.append(f"{email}: stats {stats}, but {len(mine)}/{done} stored")
    return problems


def report(ledger: Ledger, seconds: float, problems: list[str]) -> bool:
    """Print the numbers; True when the run passed."""

    def listing(counts: Counter[str]) -> str:
        return ", ".join(f"{key}: {value}" for key, value in sorted(counts.items())) or "none"

    statuses, requests = ledger.statuses, ledger.statuses.total()
    server_errors = sum(n for status, n in statuses.items() if status.startswith("5"))
    server_errors += sum(ledger.codes[code] for code in BAD_GRAPHQL_CODES)
    unanswered = sum(n for status, n in statuses.items() if not status.isdigit())
    ordered = sorted(ledger.latencies) or [0.0]
    p50, p95, p99, top = (ordered[int(q * (len(ordered) - 1))] * 1000 for q in (0.5, 0.95, 0.99, 1))
    log(f"\nrequests: {requests} in {seconds:.0f} s ({requests / max(seconds, 1):.0f}/s)")
    log(f"latency: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, max {top:.0f} ms")
    log(f"answers by status: {listing(statuses)}")
    log(f"GraphQL error codes (inside 200s): {listing(ledger.codes)}")
    for op, outcomes in sorted(ledger.by_op.items()):
        log(f"  {op:15} {listing(outcomes)}")
    deletes = len(ledger.deleted)
    log(f"acknowledged: {len(ledger.owner)} creates, {ledger.toggles.total()} toggles, "
        f"{deletes} deletes")  # fmt: skip
    log(f"5xx (and GraphQL internal/unavailable): {server_errors}; unanswered: {unanswered}")
    log(f"unexpected answers: {len(ledger.failures)}", *ledger.failures[:10], sep="\n  ")
    if problems:
        log(f"consistency check: FAILED ({len(problems)} problems)", *problems[:50], sep="\n  ")
    else:
        log(f"consistency check: OK ({len(ledger.owner) - deletes} acknowledged tasks present, "
            "nothing else; toggles, titles, paging and stats agree)")  # fmt: skip
    passed = not problems and not ledger.failures and server_errors == unanswered == 0
    log(f"result: {'PASS' if passed else 'FAIL'}")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser("python -m tests.reliability.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients")
    parser.add_argument("--users", type=int, default=8, help="accounts sharing the clients")
    parser.add_argument(
        "--admin-url", help="a PostgreSQL on 127.0.0.1 (default: env SOAK_ADMIN_URL, or ours)",
        default=os.environ.get("SOAK_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )  # fmt: skip
    args = parser.parse_args(argv)
    admin = admin_url(args.admin_url)
    if sa.make_url(admin).host not in {"127.0.0.1", "localhost", None}:
        raise SystemExit("the soak only talks to 127.0.0.1")
    # A SIGTERM, too, unwinds the context managers: the server stops, the database is dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    log(f"soak: {args.duration:.0f} s, {args.connections} clients, {args.users} users")
    ledger = Ledger()
    with tempfile.TemporaryDirectory() as logs, fresh_database(admin, "todo_soak") as url:
        # As `make serve`: idle connections outlive the client's (httpx: 5 s), so the server
        # never closes one just as the client sends on it.
        options = ("--timeout-keep-alive", "75")
        with uvicorn_server(production_env(url), Path(logs), workers=2, options=options) as server:
            seconds = asyncio.run(load(server.url, args, ledger))
            log("load done; checking consistency")
            problems = asyncio.run(check(server.url, url, ledger))
        errors = [line for line in server.log_text().splitlines() if "Error" in line]
        if errors:
            log(f"server log has {len(errors)} error lines, e.g. {errors[0][:200]}")
        return 0 if report(ledger, seconds, problems) else 1


if __name__ == "__main__":
    sys.exit(main())
