"""`make bench`: Todo API against its peers on PostgreSQL, driven by wrk, in one table.

Every system runs at once on a database of its own (see bench/peers.py); each scenario is measured
`--runs` times, interleaved, and the table shows medians, the ratio each target names, its
verdict, the server's CPU per request (from /proc, steadier than req/s on a shared machine), and
the PostgreSQL connections the system opened during the measured interval. See bench/README.md.
"""

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import sqlalchemy as sa

from bench import peers
from bench.peers import System
from bench.scenarios import (
    DEEP_TASKS,
    GQL_BATCH,
    GQL_LIST,
    GQL_PAGE,
    LIST_TASKS,
    PASSWORD,
    PG4_BATCH,
    PG4_LIST,
    Account,
    Scenario,
    _json,
    _nodes,
    account,
    bulk_tasks,
    deep_cursor,
    expect,
    seed_list,
)
from bench.wrk import Request, Wrk, WrkResult, ensure_wrk

BCRYPT_ROUNDS = 12
WRK_TIMEOUT_S = 30  # logins queue behind bcrypt for seconds


@dataclass
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # server CPU per request
    new_connections: int  # PostgreSQL sessions opened during the run


def log(message: str) -> None:
    print(message, flush=True)


def cpu_seconds(group: int) -> float:
    """User + system CPU of every process in a process group (uvicorn and its workers)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == group:  # pgrp
                    ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def sessions(admin: sa.Engine, database_url: str) -> int:
    """Connections PostgreSQL has accepted into the database so far (pg_stat_database)."""
    name = sa.make_url(database_url).database
    stats = sa.table("pg_stat_database", sa.column("datname"), sa.column("sessions"))
    with admin.connect() as connection:
        query = sa.select(stats.c.sessions).where(stats.c.datname == name)
        return int(connection.execute(query).scalar_one())


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, admin: sa.Engine) -> None:
        self.args = args
        self.wrk = Wrk(ensure_wrk(), workdir)
        self.admin = admin

    def measure(self, scenario: Scenario, system: System) -> Measured:
        args = self.args
        if args.warmup:
            self._load(scenario, system, args.warmup)
        cpu, opened = cpu_seconds(system.pid), sessions(self.admin, system.database_url)
        result = self._load(scenario, system, args.duration)
        cpu = cpu_seconds(system.pid) - cpu
        opened = sessions(self.admin, system.database_url) - opened
        if scenario.writes:  # autovacuum would, in its own time: the lists after it must not
            analyze(system.database_url)  # be measured on a plan made for 50 rows a user
        done = max(result.requests, 1)
        return Measured(
            result.rps, result.p50_ms, result.p99_ms, result.errors, 1000 * cpu / done, opened
        )

    def _load(self, scenario: Scenario, system: System, seconds: float) -> WrkResult:
        main = self.wrk.start(
            system.url,
            scenario.request,
            seconds=seconds,
            connections=self.args.connections,
            threads=2,
            timeout_s=WRK_TIMEOUT_S,
        )
        storm = None
        if scenario.storm is not None:  # one thread is plenty for a few logins a second
            storm = self.wrk.start(
                system.url,
                scenario.storm,
                seconds=seconds,
                connections=32,
                threads=1,
                timeout_s=WRK_TIMEOUT_S,
            )
        result = self.wrk.finish(main, seconds)
        if storm is not None:
            self.wrk.finish(storm, seconds)
        if scenario.logins:  # logins wrk gave up on are still queued behind bcrypt: not ours
            time.sleep(self.args.drain)
        return result


def seconds_per_hash() -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(BCRYPT_ROUNDS))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@dataclass(frozen=True)
class Seeded:
    lister: Account  # 50 tasks, 10 of them completed
    creator: Account
    deep: Account | None = None  # 10,000 tasks (the service only)
    cursor: tuple[str, int] | None = None  # after task 9,949 of deep's; the next task's id
    login: Account | None = None


def seed(system: System, secret: str) -> Seeded:
    """Accounts and tasks through the system's own API (bulk rows straight into its tables)."""
    with httpx.Client(base_url=system.url, timeout=60) as client:
        lister, creator = account(client, "lister"), account(client, "creator")
        seed_list(client, lister, system.database_url)
        seeded = Seeded(lister, creator)
        if system.name == "service":
            deep = account(client, "deep")
            bulk_tasks(system.database_url, deep.user_id, DEEP_TASKS)
            cursor = deep_cursor(system.database_url, deep, secret)
            seeded = Seeded(lister, creator, deep, cursor, account(client, "login"))
    analyze(system.database_url)  # statistics for the bulk rows
    return seeded


def analyze(database_url: str) -> None:
    with peers_engine(database_url) as engine, engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))


@contextlib.contextmanager
def peers_engine(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        engine.dispose()


def scenarios(seeded: dict[str, Seeded], postgraphile: bool) -> list[Scenario]:
    service = seeded["service"]
    lister, deep, login = service.lister, service.deep, service.login
    assert deep is not None
    assert login is not None
    assert service.cursor is not None
    cursor, next_id = service.cursor
    found: list[Scenario] = []
    for name in ("service", "floor", "naive"):
        peer = seeded[name]
        rows = expect(200, lambda body: len(body) == LIST_TASKS)  # type: ignore[arg-type]
        listing = Request("GET", "/api/tasks", peer.lister.bearer)
        found.append(Scenario("rest_list", name, listing, rows))
        body = {"title": "bench task", "description": "created under load"}
        create = _json("/api/tasks", peer.creator, body, graphql=False)
        found.append(Scenario("rest_create", name, create, expect(201), writes=True))
    after = {"query": GQL_PAGE, "variables": {"after": cursor}}
    found += [
        Scenario("gql_list", "service", _json("/graphql", lister, {"query": GQL_LIST}), expect(200, _nodes(50))),
        Scenario("gql_batch", "service", _json("/graphql", lister, GQL_BATCH), expect(200)),
        Scenario("first_page", "service", _json("/graphql", deep, {"query": GQL_PAGE}), expect(200, _nodes(50))),
        Scenario("deep_page", "service", _json("/graphql", deep, after), expect(200, _nodes(50, next_id))),
    ]  # fmt: skip
    if postgraphile:
        user = {"u": str(lister.user_id)}
        pg4_list = _json("/graphql", lister, {"query": PG4_LIST, "variables": user})
        pg4_batch = _json("/graphql", lister, [{"query": q, "variables": user} for q in PG4_BATCH])
        fifty = expect(200, lambda body: len(body["data"]["allTasks"]["nodes"]) == 50)  # type: ignore[index]
        found += [
            Scenario("gql_list", "postgraphile", pg4_list, fifty),
            Scenario("gql_batch", "postgraphile", pg4_batch, expect(200)),
        ]
    credentials = {"email": login.email, "password": PASSWORD}
    logins = _json("/api/auth/login", login, credentials, graphql=False)
    listing = Request("GET", "/api/tasks", lister.bearer)
    found += [
        Scenario("login", "service", logins, expect(200), logins=True),
        Scenario("list_under_login", "service", listing, expect(200), storm=logins, logins=True),
    ]
    return found


@dataclass(frozen=True)
class Target:
    text: str
    value: Callable[["Table"], float | None]
    holds: Callable[[float], bool]


Table = dict[tuple[str, str], Measured]  # (scenario, system): the medians


def rps(table: Table, name: str, system: str) -> float | None:
    found = table.get((name, system))
    return found.rps if found else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(per_hash: float, cores: int) -> list[Target]:
    def of(name: str, system: str, peer: str) -> Callable[[Table], float | None]:
        return lambda t: ratio(rps(t, name, system), rps(t, name, peer))

    def latency(
        name: str, other: str, pick: Callable[[Measured], float]
    ) -> Callable[..., float | None]:
        def value(t: Table) -> float | None:
            mine, theirs = t.get((name, "service")), t.get((other, "service"))
            return ratio(pick(mine), pick(theirs)) if mine and theirs else None

        return value

    def login_share(t: Table) -> float | None:
        return ratio(rps(t, "login", "service"), cores / per_hash)

    def at_least(bound: float) -> Callable[[float], bool]:
        return lambda value: value >= bound

    def at_most(bound: float) -> Callable[[float], bool]:
        return lambda value: value <= bound

    return [
        Target("rest_list >= 0.6 of the floor", of("rest_list", "service", "floor"), at_least(0.6)),
        Target("rest_create >= 0.6 of the floor", of("rest_create", "service", "floor"), at_least(0.6)),
        Target("gql_list >= 0.5 of PostGraphile 4", of("gql_list", "service", "postgraphile"), at_least(0.5)),
        Target("gql_batch >= 0.5 of PostGraphile 4", of("gql_batch", "service", "postgraphile"), at_least(0.5)),
        Target("gql_list >= 0.6 of our rest_list (fallback)", lambda t: ratio(rps(t, "gql_list", "service"), rps(t, "rest_list", "service")), at_least(0.6)),
        Target("deep_page p50 <= 1.2x first_page p50", latency("deep_page", "first_page", lambda m: m.p50_ms), at_most(1.2)),
        Target("login >= 0.9 of the bcrypt bound", login_share, at_least(0.9)),
        Target("list p99 under a login storm <= 3x its own", latency("list_under_login", "rest_list", lambda m: m.p99_ms), at_most(3)),
    ]  # fmt: skip


def report(
    table: dict[tuple[str, str], Measured], per_hash: float, runs: int, steady_opened: int
) -> bool:
    log("")
    log(f"{'scenario':<17} {'system':<13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'CPU ms/req':>10} {'new conns':>9}")  # fmt: skip
    for (name, system), m in table.items():
        log(f"{name:<17} {system:<13} {m.rps:8.1f} {m.p50_ms:8.1f} {m.p99_ms:8.1f} "
            f"{m.errors:6d} {m.cpu_ms:10.2f} {m.new_connections:9d}")  # fmt: skip
    log(f"(medians of {runs} run(s); CPU of the server's processes over the measured interval)")
    log("")
    passed = True
    for target in targets(per_hash, os.cpu_count() or 1):
        value = target.value(table)
        verdict = "n/a" if value is None else ("PASS" if target.holds(value) else "FAIL")
        passed = passed and verdict != "FAIL"
        log(f"{target.text:<52} {'' if value is None else f'{value:6.2f}':>6}  {verdict}")
    errors = sum(m.errors for m in table.values())
    log(f"{'zero errors in every scenario':<52} {errors:6d}  {'PASS' if not errors else 'FAIL'}")
    verdict = "PASS" if steady_opened == 0 else "FAIL"
    log(f"{'service opens no connection after run 1 (steady)':<52} {steady_opened:6d}  {verdict}")
    return passed and not errors and steady_opened == 0


def median(values: list[Measured]) -> Measured:
    def mid(pick: Callable[[Measured], float]) -> float:
        return statistics.median(pick(value) for value in values)

    return Measured(
        mid(lambda m: m.rps), mid(lambda m: m.p50_ms), mid(lambda m: m.p99_ms),
        sum(m.errors for m in values), mid(lambda m: m.cpu_ms),
        sum(m.new_connections for m in values),
    )  # fmt: skip


def opened_after_first(values: list[Measured]) -> int:
    """Connections opened in runs 2 and later: in run 1 the pool may still be filling."""
    return sum(m.new_connections for m in values[1:])


def two_workers(args: argparse.Namespace, bench: Bench, workdir: Path, secret: str) -> None:
    """rest_list with one and with two uvicorn workers, for the service and for the floor."""
    log("")
    log("rest_list with 1 and 2 workers (fresh servers):")
    for name in ("service", "floor"):
        results = {}
        for workers in (1, 2):
            with peers.uvicorn_system(name, args.admin_url, workdir, secret, 4, workers) as system:
                request = Request("GET", "/api/tasks", seed(system, secret).lister.bearer)
                scenario = Scenario("rest_list", name, request, expect(200))
                results[workers] = [bench.measure(scenario, system) for _ in range(args.runs)]
        one, two = (median(results[n]) for n in (1, 2))
        verdict = ("PASS" if two.rps >= 1.6 * one.rps else "FAIL") if name == "service" else ""
        log(
            f"  {name:<8} 1 worker {one.rps:7.1f} req/s, 2 workers {two.rps:7.1f} req/s: "
            f"{two.rps / one.rps:.2f}x {verdict}; connections opened after run 1: "
            f"{opened_after_first(results[2])}"
        )


def runnable(
    every: list[Scenario], systems: dict[str, System], only: list[str] | None
) -> list[Scenario]:
    """The scenarios to measure: each answered once, and right, before it gets any load."""
    chosen = []
    for scenario in every:
        if only and scenario.name not in only:
            continue
        request = scenario.request
        with httpx.Client(base_url=systems[scenario.system].url, timeout=60) as client:
            answer = client.request(
                request.method, request.path, headers=dict(request.headers), content=request.body
            )
        if (problem := scenario.check(answer)) is not None:
            log(f"  {scenario.name} on {scenario.system}: its check failed, not run: {problem}")
            continue
        chosen.append(scenario)
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--drain", type=float, default=8.0, help="seconds after a login storm")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--no-workers", action="store_true", help="skip the 2-worker comparison")
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args(argv)
    # A SIGTERM (timeout, Ctrl-C from a parent) unwinds the context managers that stop the
    # servers and drop their databases, instead of leaving them behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    secret = os.urandom(32).hex()
    per_hash = seconds_per_hash()
    log(f"bcrypt cost {BCRYPT_ROUNDS}: {per_hash * 1000:.0f} ms a hash in this process")
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with tempfile.TemporaryDirectory(prefix="todo-bench-") as tmp:
        workdir = Path(tmp)
        bench = Bench(args, workdir, admin)
        with contextlib.ExitStack() as stack:
            systems = {
                name: stack.enter_context(
                    peers.uvicorn_system(name, args.admin_url, workdir, secret, BCRYPT_ROUNDS, 1)
                )
                for name in ("service", "floor", "naive")
            }
            log("seeding through each system's API")
            seeded = {name: seed(system, secret) for name, system in systems.items()}
            binary = peers.ensure_postgraphile()
            if binary is not None:
                database = systems["service"].database_url
                systems["postgraphile"] = stack.enter_context(
                    peers.postgraphile(binary, database, workdir)
                )
            every = scenarios(seeded, postgraphile=binary is not None)
            chosen = runnable(every, systems, args.only)
            runs: dict[tuple[str, str], list[Measured]] = defaultdict(list)
            for run in range(1, args.runs + 1):
                for scenario in chosen:
                    measured = bench.measure(scenario, systems[scenario.system])
                    runs[(scenario.name, scenario.system)].append(measured)
                    log(
                        f"  run {run} {scenario.name:<17} {scenario.system:<13} "
                        f"{measured.rps:8.1f} req/s  CPU {measured.cpu_ms:5.2f} ms/req"
                    )
        table = {key: median(values) for key, values in runs.items()}
        steady = sum(
            opened_after_first(values)
            for (_, system), values in runs.items()
            if system == "service"
        )
        passed = report(table, per_hash, args.runs, steady)
        if not args.no_workers:
            two_workers(args, bench, workdir, secret)
    admin.dispose()
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
