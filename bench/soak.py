"""Soak: minutes of mixed REST and GraphQL load on two workers over PostgreSQL, then a check.

    python -m bench.soak [--duration 300] [--connections 32] [--users 8]

A fresh database is created on the PostgreSQL server (`--admin-url`), migrated, and served by
`uvicorn --workers 2` on 127.0.0.1 (a port in 8200-8299). Several users, each logged in on
several connections, create, read, list, page, update, toggle and delete tasks through both REST
and GraphQL, and refresh their tokens, for `--duration` seconds. Every answer is recorded.

Then the consistency check compares the database with what the service acknowledged: every
acknowledged task is there (unless acknowledged as deleted), nothing else is, each survivor's
`completed` matches the parity of its acknowledged toggles and its title is one it was
acknowledged with, and each user's GraphQL paging and REST stats show exactly the stored rows.

Exits 1 on any 5xx (or GraphQL INTERNAL_SERVER_ERROR / SERVICE_UNAVAILABLE), any request left
unanswered, any answer a correct client would not expect, or any failed check. The server and
the database are removed at the end however the run ends.
"""

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PORTS = range(8200, 8300)
PASSWORD = "Soak-Passw0rd"
REQUEST_TIMEOUT = 30.0
READY_TIMEOUT = 60.0
BAD_GRAPHQL_CODES = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}

# The mix: (operation, weight). Creates outweigh deletes, so every user keeps some tasks.
MIX = [
    ("rest.create", 14),
    ("rest.list", 14),
    ("rest.get", 8),
    ("rest.update", 8),
    ("rest.toggle", 10),
    ("rest.delete", 5),
    ("rest.stats", 6),
    ("graphql.tasks", 10),
    ("graphql.create", 6),
    ("graphql.toggle", 6),
    ("graphql.delete", 2),
    ("graphql.batch", 5),
    ("rest.refresh", 1),
    ("rest.health", 2),
]


def log(message: str) -> None:
    print(message, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients")
    parser.add_argument("--users", type=int, default=8, help="accounts sharing the clients")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("SOAK_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL allowed to create and drop databases (env SOAK_ADMIN_URL)",
    )
    parser.add_argument(
        "--bcrypt-rounds",
        type=int,
        default=4,
        help="bcrypt cost of the soak server (the soak is about consistency, not hashing)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    return parser.parse_args(argv)


# --- the database and the server --------------------------------------------------------------


def psycopg2_url(url: str) -> str:
    return Settings(database_url=url, jwt_secret="x" * 32, _env_file=None).database_url


def admin_execute(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@contextlib.contextmanager
def fresh_database(admin_url: str, keep: bool) -> Iterator[str]:
    name = f"todo_soak_{uuid.uuid4().hex[:10]}"
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        config = Config(str(ROOT / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
        yield url
    finally:
        if keep:
            log(f"kept database {name}")
        else:
            admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    candidates = list(PORTS)
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8200-8299")


@contextlib.contextmanager
def server(database_url: str, args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    """`uvicorn --workers N` on the database, in its own process group, stopped on exit."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    env.update(
        ENVIRONMENT="production",
        DATABASE_URL=database_url,
        JWT_SECRET=secrets.token_urlsafe(48),
        BCRYPT_ROUNDS=str(args.bcrypt_rounds),
        RATE_LIMIT_STORAGE_URL="memory://",  # the soak makes no failed logins
        ACCESS_TOKEN_MINUTES="60",
    )
    command_line = [
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
        "--host", HOST, "--port", str(port), "--workers", str(args.workers),
        "--no-access-log", "--timeout-graceful-shutdown", "5",
        # As `make serve`: idle connections outlive the client's (httpx: 5 s), so the server never
        # closes one just as the client sends on it.
        "--timeout-keep-alive", "75",
    ]  # fmt: skip
    log_path = workdir / "server.log"
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            command_line,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready in {READY_TIMEOUT} s")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        log(f"server: {base}, {args.workers} workers, log {log_path}")
        yield base
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        errors = [
            line for line in log_path.read_text(errors="replace").splitlines() if "Error" in line
        ]
        if errors:
            log(f"server log has {len(errors)} error lines, e.g. {errors[0][:200]}")


# --- the load ---------------------------------------------------------------------------------


@dataclass
class User:
    email: str
    known: list[int] = field(default_factory=list)  # ids of its tasks the clients may touch


@dataclass
class Ledger:
    """What the service acknowledged, and everything it answered."""

    owner: dict[int, str] = field(default_factory=dict)  # acknowledged task id -> email
    titles: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    toggles: Counter[int] = field(default_factory=Counter)
    deleted: set[int] = field(default_factory=set)
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (operation, outcome)
    failures: list[str] = field(default_factory=list)  # unexpected answers, described
    latencies: list[float] = field(default_factory=list)
    requests: int = 0

    def fail(self, message: str) -> None:
        if len(self.failures) < 1000:
            self.failures.append(message)


@dataclass
class Client:
    """One connection's worth of a user: its own login, so its own refresh chain."""

    http: httpx.AsyncClient
    user: User
    ledger: Ledger
    rng: random.Random
    name: str
    access: str = ""
    refresh: str = ""
    counter: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"} if self.access else {}

    async def call(
        self, operation: str, method: str, path: str, expected: set[int], **kwargs: Any
    ) -> httpx.Response | None:
        self.ledger.requests += 1
        started = time.monotonic()
        try:
            response = await self.http.request(method, path, headers=self.headers, **kwargs)
        except httpx.HTTPError as error:
            self.ledger.answers[(operation, type(error).__name__)] += 1
            self.ledger.fail(f"{operation}: no answer ({error!r})")
            return None
        self.ledger.latencies.append(time.monotonic() - started)
        self.ledger.answers[(operation, str(response.status_code))] += 1
        if response.status_code not in expected:
            self.ledger.fail(f"{operation}: {response.status_code} {response.text[:200]}")
            return None
        return response

    async def graphql(
        self, operation: str, payload: Any, allowed_codes: frozenset[str] = frozenset()
    ) -> Any:
        """POST a GraphQL operation (or batch); None unless every error code is allowed."""
        response = await self.call(operation, "POST", "/graphql", {200}, json=payload)
        if response is None:
            return None
        body = response.json()
        results = body if isinstance(body, list) else [body]
        codes = [
            (error.get("extensions") or {}).get("code")
            for result in results
            for error in result.get("errors") or []
        ]
        for code in codes:
            self.ledger.answers[(operation, f"graphql:{code}")] += 1
        unexpected = [code for code in codes if code not in allowed_codes]
        if unexpected:
            self.ledger.fail(f"{operation}: GraphQL errors {unexpected}: {str(body)[:200]}")
            return None
        return body

    def title(self, kind: str) -> str:
        self.counter += 1
        return f"{kind} {self.name}-{self.counter}"

    def pick(self) -> int | None:
        return self.rng.choice(self.user.known) if self.user.known else None

    def forget(self, task_id: int) -> None:
        with contextlib.suppress(ValueError):
            self.user.known.remove(task_id)

    def remember(self, task_id: int, title: str) -> None:
        self.ledger.owner[task_id] = self.user.email
        self.ledger.titles[task_id].add(title)
        self.user.known.append(task_id)
        if len(self.user.known) > 200:  # touch recent tasks; older ones stay as they are
            self.user.known.pop(0)

    async def login(self) -> None:
        body = {"email": self.user.email, "password": PASSWORD}
        response = await self.call("rest.login", "POST", "/api/auth/login", {200}, json=body)
        if response is None:
            raise RuntimeError(f"{self.name} could not log in: {self.ledger.failures[-1:]}")
        tokens = response.json()
        self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]

    async def step(self, operation: str) -> None:
        task_id = self.pick()
        if operation == "rest.create":
            title = self.title("rest")
            response = await self.call(
                operation, "POST", "/api/tasks", {201}, json={"title": title}
            )
            if response is not None:
                self.remember(response.json()["id"], title)
        elif operation == "rest.list":
            params = {"limit": 20, "completed": self.rng.choice(["true", "false"])}
            await self.call(operation, "GET", "/api/tasks", {200}, params=params)
        elif operation == "rest.stats":
            await self.call(operation, "GET", "/api/tasks/stats", {200})
        elif operation == "rest.health":
            await self.call(operation, "GET", "/api/health", {200})
        elif operation == "rest.refresh":
            body = {"refresh_token": self.refresh}
            response = await self.call(operation, "POST", "/api/auth/refresh", {200}, json=body)
            if response is not None:
                tokens = response.json()
                self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]
        elif operation == "graphql.tasks":
            query = "query ($after: String) { tasks(first: 20, after: $after) { totalCount "
            query += "nodes { id title completed owner { email } } pageInfo { endCursor } } }"
            first = await self.graphql(operation, {"query": query})
            cursor = first and first["data"]["tasks"]["pageInfo"]["endCursor"]
            if cursor:
                await self.graphql(operation, {"query": query, "variables": {"after": cursor}})
        elif operation == "graphql.create":
            title = self.title("graphql")
            mutation = "mutation ($t: String!) { createTask(input: {title: $t}) { id } }"
            body = await self.graphql(operation, {"query": mutation, "variables": {"t": title}})
            if body is not None:
                self.remember(body["data"]["createTask"]["id"], title)
        elif operation == "graphql.batch":
            await self.graphql(
                operation,
                [
                    {"query": "{ taskStats { total completed pending } }"},
                    {"query": "{ me { id } }"},
                ],
            )
        elif task_id is None:
            return
        elif operation == "rest.get":
            await self.call(operation, "GET", f"/api/tasks/{task_id}", {200, 404})
        elif operation == "rest.update":
            title = self.title("updated")
            response = await self.call(
                operation, "PATCH", f"/api/tasks/{task_id}", {200, 404}, json={"title": title}
            )
            if response is not None and response.status_code == 200:
                self.ledger.titles[task_id].add(title)
        elif operation == "rest.toggle":
            path = f"/api/tasks/{task_id}/toggle"
            response = await self.call(operation, "PATCH", path, {200, 404})
            if response is not None and response.status_code == 200:
                self.ledger.toggles[task_id] += 1
        elif operation == "graphql.toggle":
            mutation = "mutation ($id: Int!) { toggleTask(id: $id) { id completed } }"
            payload = {"query": mutation, "variables": {"id": task_id}}
            body = await self.graphql(operation, payload, frozenset({"NOT_FOUND"}))
            if body is not None and body.get("data"):
                self.ledger.toggles[task_id] += 1
        elif operation in {"rest.delete", "graphql.delete"}:
            self.forget(task_id)
            if operation == "rest.delete":
                response = await self.call(operation, "DELETE", f"/api/tasks/{task_id}", {200, 404})
                deleted = response is not None and response.status_code == 200
            else:
                mutation = "mutation ($id: Int!) { deleteTask(id: $id) }"
                payload = {"query": mutation, "variables": {"id": task_id}}
                body = await self.graphql(operation, payload, frozenset({"NOT_FOUND"}))
                deleted = body is not None and bool(body.get("data"))
            if deleted:
                self.ledger.deleted.add(task_id)


async def run_load(base: str, args: argparse.Namespace, ledger: Ledger) -> float:
    """Sign the users up, log every client in, then load until the deadline; the seconds run."""
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    timeout = httpx.Timeout(REQUEST_TIMEOUT)
    rng = random.Random(args.seed)
    operations = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as http:
        users = [
            User(f"soak-{index}-{uuid.uuid4().hex[:8]}@example.com") for index in range(args.users)
        ]
        for user in users:
            body = {"email": user.email, "name": "Soak", "password": PASSWORD}
            response = await http.post("/api/auth/signup", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"signup failed: {response.status_code} {response.text}")
        clients = [
            Client(
                http, users[index % len(users)], ledger, random.Random(rng.random()), f"c{index}"
            )
            for index in range(args.connections)
        ]
        await asyncio.gather(*(client.login() for client in clients))

        started = time.monotonic()
        deadline = started + args.duration
        next_report = started + 30

        async def drive(client: Client) -> None:
            nonlocal next_report
            while time.monotonic() < deadline:
                operation = client.rng.choices(operations, weights)[0]
                await client.step(operation)
                now = time.monotonic()
                if now >= next_report:
                    next_report = now + 30
                    log(
                        f"  {now - started:5.0f} s: {ledger.requests} requests, "
                        f"{len(ledger.failures)} unexpected"
                    )

        await asyncio.gather(*(drive(client) for client in clients))
        return time.monotonic() - started


# --- the check --------------------------------------------------------------------------------


async def graphql_ids(http: httpx.AsyncClient, token: str) -> set[int]:
    """Every task of the token's user, paged through GraphQL 100 at a time."""
    query = "query ($after: String) { tasks(first: 100, after: $after) "
    query += "{ nodes { id } pageInfo { hasNextPage endCursor } } }"
    ids: set[int] = set()
    after = None
    for _ in range(10_000):  # bounded: 1,000,000 tasks
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": {"after": after}},
            headers={"Authorization": f"Bearer {token}"},
        )
        page = response.json()["data"]["tasks"]
        ids.update(node["id"] for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return ids


async def check(base: str, database_url: str, ledger: Ledger) -> list[str]:
    """Compare the database (and what each user sees) with what was acknowledged."""
    problems: list[str] = []
    engine = create_engine(psycopg2_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT t.id, t.title, t.completed, u.email FROM tasks t "
                    "JOIN users u ON u.id = t.user_id"
                )
            ).all()
    finally:
        engine.dispose()
    stored = {task_id: (title, completed, email) for task_id, title, completed, email in rows}
    expected = {task_id for task_id in ledger.owner if task_id not in ledger.deleted}
    lost = sorted(expected - set(stored))
    if lost:
        problems.append(f"{len(lost)} acknowledged tasks lost, e.g. {lost[:10]}")
    resurrected = sorted(ledger.deleted & set(stored))
    if resurrected:
        problems.append(f"{len(resurrected)} acknowledged deletes undone, e.g. {resurrected[:10]}")
    unknown = sorted(set(stored) - set(ledger.owner))
    if unknown:
        problems.append(f"{len(unknown)} stored tasks nobody was told of, e.g. {unknown[:10]}")
    for task_id in sorted(expected & set(stored)):
        title, completed, email = stored[task_id]
        if email != ledger.owner[task_id]:
            problems.append(f"task {task_id} belongs to {email}, not {ledger.owner[task_id]}")
        if completed != (ledger.toggles[task_id] % 2 == 1):
            problems.append(
                f"task {task_id}: completed={completed} after {ledger.toggles[task_id]} toggles"
            )
        if title not in ledger.titles[task_id]:
            problems.append(f"task {task_id}: title {title!r} was never acknowledged")
    # What each user sees through the API is exactly what is stored for them.
    by_owner: dict[str, set[int]] = defaultdict(set)
    for task_id, (_, _, email) in stored.items():
        by_owner[email].add(task_id)
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as http:
        for email in sorted(set(ledger.owner.values())):
            login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            token = login.json()["access_token"]
            seen = await graphql_ids(http, token)
            if seen != by_owner[email]:
                problems.append(
                    f"{email}: GraphQL pages show {len(seen)} tasks, stored {len(by_owner[email])}"
                )
            stats = (
                await http.get("/api/tasks/stats", headers={"Authorization": f"Bearer {token}"})
            ).json()
            done = sum(1 for task_id in by_owner[email] if stored[task_id][1])
            if (stats["total"], stats["completed"]) != (len(by_owner[email]), done):
                problems.append(f"{email}: stats {stats} but {len(by_owner[email])}/{done} stored")
    return problems[:50]


# --- the report -------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(ledger: Ledger, seconds: float, problems: list[str]) -> bool:
    """Print the numbers; True when the run passed."""
    log("")
    rate = ledger.requests / max(seconds, 1)
    log(f"requests: {ledger.requests} in {seconds:.0f} s ({rate:.0f}/s)")
    latencies = ledger.latencies
    log(
        "latency: "
        + ", ".join(
            f"{name} {percentile(latencies, share) * 1000:.0f} ms"
            for name, share in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)]
        )
    )
    by_status: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for (_, outcome), count in ledger.answers.items():
        if outcome.startswith("graphql:"):
            codes[outcome.removeprefix("graphql:")] += count
        else:
            by_status[outcome] += count
    log("answers by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items())))
    log(
        "GraphQL error codes (inside 200s): "
        + (", ".join(f"{k}: {v}" for k, v in sorted(codes.items())) or "none")
    )
    log("answers by operation:")
    operations = sorted({operation for operation, _ in ledger.answers})
    for operation in operations:
        outcomes = {k[1]: v for k, v in ledger.answers.items() if k[0] == operation}
        log(f"  {operation:15} " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    server_errors = sum(
        count
        for (_, outcome), count in ledger.answers.items()
        if outcome.startswith("5") or outcome.removeprefix("graphql:") in BAD_GRAPHQL_CODES
    )
    unanswered = sum(  # outcomes named by an httpx exception, not a status or a GraphQL code
        count
        for (_, outcome), count in ledger.answers.items()
        if not outcome[0].isdigit() and not outcome.startswith("graphql:")
    )
    acknowledged = len(ledger.owner)
    log(
        f"writes acknowledged: {acknowledged} creates, {sum(ledger.toggles.values())} toggles, "
        f"{len(ledger.deleted)} deletes"
    )
    log(f"5xx (and GraphQL internal/unavailable): {server_errors}; unanswered: {unanswered}")
    log(f"unexpected answers: {len(ledger.failures)}")
    for failure in ledger.failures[:10]:
        log(f"  {failure}")
    if problems:
        log(f"consistency check: FAILED ({len(problems)} problems)")
        for problem in problems:
            log(f"  {problem}")
    else:
        log(
            f"consistency check: OK ({acknowledged - len(ledger.deleted)} acknowledged tasks "
            "present, nothing else; toggles, titles, paging and stats agree)"
        )
    passed = not problems and not ledger.failures and server_errors == 0 and unanswered == 0
    log("result: PASS" if passed else "result: FAIL")
    return passed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    admin_url = psycopg2_url(args.admin_url)
    host = make_url(admin_url).host
    if host not in {"127.0.0.1", "localhost", None}:
        raise SystemExit("the soak only talks to 127.0.0.1")

    def terminate(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    ledger = Ledger()
    with (
        tempfile.TemporaryDirectory(prefix="todo-soak-") as workdir,
        fresh_database(admin_url, args.keep_database) as database_url,
        server(database_url, args, Path(workdir)) as base,
    ):
        log(
            f"soak: {args.duration:.0f} s, {args.connections} connections, {args.users} users, "
            f"mixed REST and GraphQL"
        )
        seconds = asyncio.run(run_load(base, args, ledger))
        log("load done; checking consistency")
        problems = asyncio.run(check(base, database_url, ledger))
        passed = report(ledger, seconds, problems)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
