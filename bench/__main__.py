"""`make bench`: Todo API against its peers on PostgreSQL, driven by wrk, in one table.

Every system runs at once on a database of its own (see bench/peers.py); each scenario is measured
`--runs` times, interleaved, and the table shows medians, the ratio each target names, its
verdict, the server's CPU per request (from /proc, steadier than req/s on a shared machine), and
the PostgreSQL connections the system opened after its first run. See bench/README.md.
"""

import argparse
import contextlib
import functools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from app.settings import Settings
from bench import live, peers, scenarios, wrk
from bench.scenarios import GQL_LIST, Scenario
from models.task import MAX_PAGE_SIZE
from resolvers.document_limits import RequestLimits
from resolvers.parser_cache import parse_document
from resolvers.schema import build_schema
from tests.reliability.servers import Server, uvicorn_server

BCRYPT_ROUNDS = 12


@dataclass
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # server CPU per request
    new_connections: int  # PostgreSQL sessions opened during the run


Table = dict[tuple[str, str], Measured]  # (scenario, system): the summary of its runs
log = functools.partial(print, flush=True)


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
    stats = sa.table("pg_stat_database", sa.column("datname"), sa.column("sessions"))
    query = sa.select(stats.c.sessions).where(stats.c.datname == sa.make_url(database_url).database)
    with admin.connect() as connection:
        return int(connection.execute(query).scalar_one())


def analyze(database_url: str) -> None:
    """Planner statistics for rows just written: autovacuum would, in its own time, and the lists
    measured after a write must not run on a plan made for 50 rows a user."""
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))


@dataclass(frozen=True)
class Bench:
    args: argparse.Namespace
    workdir: Path  # wrk's scripts, the servers' logs
    admin: sa.Engine

    def measure(self, scenario: Scenario, system: Server) -> Measured:
        if self.args.warmup:
            self.load(scenario, system, self.args.warmup)
        cpu, opened = cpu_seconds(system.process.pid), sessions(self.admin, system.database_url)
        result = self.load(scenario, system, self.args.duration)
        cpu = cpu_seconds(system.process.pid) - cpu
        opened = sessions(self.admin, system.database_url) - opened
        if scenario.writes:
            analyze(system.database_url)
        cpu_ms = 1000 * cpu / max(result.requests, 1)
        return Measured(result.rps, result.p50_ms, result.p99_ms, result.errors, cpu_ms, opened)

    def start(self, scenario: Scenario, system: Server, seconds: float) -> "subprocess.Popen[str]":
        return wrk.start(system.url, scenario.request, self.workdir, seconds=seconds,
                         connections=self.args.connections, threads=2)  # fmt: skip

    def load(self, scenario: Scenario, system: Server, seconds: float) -> wrk.Result:
        main = self.start(scenario, system, seconds)
        storm = scenario.storm and wrk.start(
            system.url, scenario.storm, self.workdir, seconds=seconds, connections=32, threads=1
        )
        result = wrk.finish(main, seconds)
        if storm:
            wrk.finish(storm, seconds)
        # Requests wrk abandoned at its end are still running: the next load starts on an idle
        # system. (Without it the tutorial app deadlocks: its GraphQL resolvers block the event
        # loop waiting for a pooled connection that only an abandoned REST request's teardown,
        # scheduled on that loop, would give back.) Logins wrk gave up on queue behind bcrypt.
        time.sleep(self.args.drain if scenario.logins else self.args.settle)
        return result


def seconds_per_hash() -> float:
    """A bcrypt hash at the service's cost, in this process: the login target's bound."""
    hash_once = functools.partial(bcrypt.hashpw, b"password", bcrypt.gensalt(BCRYPT_ROUNDS))
    return statistics.median(timeit.repeat(hash_once, number=1, repeat=3))


def cost_check_ms() -> tuple[float, float]:
    """The cost check of gql_list's document in this process, in ms: at first sight (measured,
    the document already parsed) and on every request after (a look-up of that measure)."""
    settings = Settings(environment="test", jwt_secret="b" * 16 + "ench-only-signing-key")
    schema = build_schema(settings)._schema

    def limits() -> RequestLimits:
        return RequestLimits(schema, max_page=MAX_PAGE_SIZE, max_cost=settings.graphql_max_cost,
                             max_mutations=settings.graphql_max_mutations,
                             parse=lambda query: parse_document(query, settings.graphql_max_tokens))  # fmt: skip

    warm = limits()
    first = timeit.timeit(lambda: limits().measure(GQL_LIST, None, None), number=200) / 200
    again = timeit.timeit(lambda: warm.measure(GQL_LIST, None, None), number=20_000) / 20_000
    return 1000 * first, 1000 * again


def targets(table: Table, per_hash: float, cost_ms: float) -> list[tuple[str, float | None, bool]]:
    """Each target of the performance issue: its text, its value (None: not measured), held."""

    def rps(name: str, system: str = "service") -> float | None:
        return table[name, system].rps if (name, system) in table else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def cpu_ms(name: str) -> float | None:
        return table[name, "service"].cpu_ms if (name, "service") in table else None

    def latency(name: str, other: str, pick: Callable[[Measured], float]) -> float | None:
        mine, theirs = table.get((name, "service")), table.get((other, "service"))
        return ratio(pick(mine), pick(theirs)) if mine and theirs else None

    at_least, at_most = True, False
    floor_scaling = ratio(rps("rest_list", "floor-2w"), rps("rest_list", "floor")) or 0.0
    found = [
        ("rest_list >= 0.6 of the floor", ratio(rps("rest_list"), rps("rest_list", "floor")), at_least, 0.6),
        ("rest_create >= 0.6 of the floor", ratio(rps("rest_create"), rps("rest_create", "floor")), at_least, 0.6),
        ("gql_list >= 0.5 of PostGraphile 4", ratio(rps("gql_list"), rps("gql_list", "postgraphile")), at_least, 0.5),
        ("gql_batch >= 0.5 of PostGraphile 4", ratio(rps("gql_batch"), rps("gql_batch", "postgraphile")), at_least, 0.5),
        ("gql_list >= 0.6 of our rest_list (fallback)", ratio(rps("gql_list"), rps("rest_list")), at_least, 0.6),
        ("gql_list >= 3x the tutorial's GraphQL", ratio(rps("gql_list"), rps("gql_list", "naive")), at_least, 3),
        ("gql_batch >= 3x the tutorial's GraphQL", ratio(rps("gql_batch"), rps("gql_batch", "naive")), at_least, 3),
        ("cost check <= 1% of gql_list's CPU per request", ratio(cost_ms, cpu_ms("gql_list")), at_most, 0.01),
        ("gql_list by hash (GET) >= 0.95 of gql_list", ratio(rps("gql_list_by_hash"), rps("gql_list")), at_least, 0.95),
        ("deep_page p50 <= 1.2x first_page p50", latency("deep_page", "first_page", lambda m: m.p50_ms), at_most, 1.2),
        ("login >= 0.9 of the bcrypt bound", ratio(rps("login"), (os.cpu_count() or 1) / per_hash), at_least, 0.9),
        ("due+tag deep_page p50 <= 1.2x its first page", latency("due_deep_page", "due_first_page", lambda m: m.p50_ms), at_most, 1.2),
        ("rest_list with tags >= 0.85 of rest_list", ratio(rps("rest_list_tags"), rps("rest_list")), at_least, 0.85),
        ("rest_list CPU, Better Auth token <= 1.1x own", ratio(cpu_ms("rest_list_better_auth"), cpu_ms("rest_list")), at_most, 1.1),
        ("gql_list with tags >= 0.85 of gql_list", ratio(rps("gql_list_tags"), rps("gql_list")), at_least, 0.85),
        ("list p99 under a login storm <= 3x its own", latency("list_under_login", "rest_list", lambda m: m.p99_ms), at_most, 3),
        ("rest_list, observed >= 0.95 of unobserved", ratio(rps("rest_list"), rps("rest_list", "service-quiet")), at_least, 0.95),
        ("gql_list, observed >= 0.95 of unobserved", ratio(rps("gql_list"), rps("gql_list", "service-quiet")), at_least, 0.95),
        (f"2 workers >= 1.6x 1 worker (floor: {floor_scaling:.2f}x)", ratio(rps("rest_list", "service-2w"), rps("rest_list")), at_least, 1.6),
    ]  # fmt: skip
    return [
        (text, value, value is not None and (value >= bound if lower else value <= bound))
        for text, value, lower, bound in found
    ]


def report(
    table: Table, per_hash: float, cost_ms: float, runs: int, events: live.Result | None
) -> bool:
    log(f"\n{'scenario':<17} {'system':<13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'CPU ms/req':>10} {'new conns':>9}")  # fmt: skip
    for (name, system), m in table.items():
        log(f"{name:<17} {system:<13} {m.rps:8.1f} {m.p50_ms:8.1f} {m.p99_ms:8.1f} "
            f"{m.errors:6d} {m.cpu_ms:10.2f} {m.new_connections:9d}")  # fmt: skip
    log(f"(medians of {runs} run(s), errors of all, new connections after run 1; CPU of the "
        "server's processes over the measured interval)\n")  # fmt: skip
    errors = sum(m.errors for m in table.values())
    steady = sum(m.new_connections for (_, system), m in table.items() if "service" in system)
    verdicts = targets(table, per_hash, cost_ms)
    if events is not None:
        log(events.summary() + "\n")
        verdicts.append(("event p99 on instance B under rest_create <= 100 ms", events.p99_ms,
                         events.p99_ms <= 100 and events.events == events.probes))  # fmt: skip
    verdicts += [
        ("zero errors in every scenario", errors, errors == 0),
        ("service opens no connection after run 1 (steady)", steady, steady == 0),
    ]
    for text, value, held in verdicts:
        shown = (
            "" if value is None else f"{value:6.3f}" if isinstance(value, float) else f"{value:6d}"
        )
        log(f"{text:<52} {shown:>6}  {'n/a' if value is None else 'PASS' if held else 'FAIL'}")
    return all(held for _, value, held in verdicts if value is not None)


def summary(runs: list[Measured]) -> Measured:
    """Medians of the runs, but the errors of all of them and the connections opened after the
    first (in run 1 the pool may still be filling)."""

    def mid(pick: Callable[[Measured], float]) -> float:
        return statistics.median(pick(value) for value in runs)

    return Measured(
        mid(lambda m: m.rps), mid(lambda m: m.p50_ms), mid(lambda m: m.p99_ms),
        sum(m.errors for m in runs), mid(lambda m: m.cpu_ms),
        sum(m.new_connections for m in runs[1:]),
    )  # fmt: skip


def answered(scenario: Scenario, system: Server) -> bool:
    """Whether the scenario's request, sent once, gets the answer its check expects."""
    request = scenario.request
    with httpx.Client(base_url=system.url, timeout=60) as client:
        answer = client.request(
            request.method, request.path, headers=dict(request.headers), content=request.body
        )
    if not (passed := scenario.check(answer)):
        log(f"  {scenario.name} on {scenario.system}: its check failed, not run: "
            f"{answer.status_code} {answer.text[:200]}")  # fmt: skip
    return passed


def start_systems(
    stack: contextlib.ExitStack, args: argparse.Namespace, workdir: Path, secret: str
) -> tuple[dict[str, Server], list[Scenario]]:
    """Every system, seeded, and the scenarios each serves that were asked for and answer."""
    systems, every = {}, []
    better_auth = peers.better_auth(workdir)
    better_auth_url = stack.enter_context(better_auth).url if better_auth else None
    for name, workers in [*((name, 1) for name in peers.APPS), ("service", 2), ("floor", 2)]:
        label = name if workers == 1 else f"{name}-{workers}w"  # two workers: rest_list only
        rounds = BCRYPT_ROUNDS if workers == 1 else 4
        accepts = better_auth_url if label == "service" else None  # Better Auth's tokens
        settings = {"BETTER_AUTH_URL": accepts} if accepts else {}
        system = peers.uvicorn_system(name, args.admin_url, workdir, secret, rounds, workers, **settings)  # fmt: skip
        systems[label] = server = stack.enter_context(system)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            every += scenarios.seed(client, label, server.database_url, secret, accepts)
        analyze(server.database_url)
    # The service as above but with OBSERVE_REQUESTS=false: what ids, access lines and metrics cost.
    same: dict[str, str] = {"BETTER_AUTH_URL": better_auth_url} if better_auth_url else {}
    quiet = peers.uvicorn_system("service", args.admin_url, workdir, secret, BCRYPT_ROUNDS, 1, OBSERVE_REQUESTS="false", **same)  # fmt: skip
    systems["service-quiet"] = server = stack.enter_context(quiet)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        every += scenarios.seed(client, "service-quiet", server.database_url, secret)
    analyze(server.database_url)
    if graphile := peers.postgraphile(systems["service"].database_url, workdir):
        systems["postgraphile"] = stack.enter_context(graphile)
    chosen = [
        scenario
        for scenario in every
        if scenario.system in systems
        and scenario.name in (args.only or [scenario.name])
        and answered(scenario, systems[scenario.system])
    ]
    return systems, chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--drain", type=float, default=8.0, help="seconds after a login storm")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after other loads")
    parser.add_argument("--only", nargs="*", help="scenario names to run (and live_events)")
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: `make bench` installs it (Debian's package wrk)")
    # A SIGTERM (timeout, Ctrl-C from a parent) unwinds the context managers that stop the
    # servers and drop their databases, instead of leaving them behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    secret, per_hash = os.urandom(32).hex(), seconds_per_hash()
    log(f"bcrypt cost {BCRYPT_ROUNDS}: {per_hash * 1000:.0f} ms a hash in this process")
    first_sight_ms, cost_ms = cost_check_ms()
    log(f"cost check of gql_list: {first_sight_ms * 1000:.0f} us at first sight, "
        f"{cost_ms * 1000:.1f} us a request after (in this process)")  # fmt: skip
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    runs: dict[tuple[str, str], list[Measured]] = defaultdict(list)
    with (
        tempfile.TemporaryDirectory(prefix="todo-bench-") as workdir,
        contextlib.ExitStack() as stack,
    ):
        bench = Bench(args, Path(workdir), admin)
        log("starting and seeding each system through its own API")
        systems, chosen = start_systems(stack, args, bench.workdir, secret)
        for run in range(1, args.runs + 1):
            for scenario in chosen:
                measured = bench.measure(scenario, systems[scenario.system])
                runs[scenario.name, scenario.system].append(measured)
                log(f"  run {run} {scenario.name:<17} {scenario.system:<13} "
                    f"{measured.rps:8.1f} req/s  CPU {measured.cpu_ms:5.2f} ms/req")  # fmt: skip
        create = next((s for s in chosen if (s.name, s.system) == ("rest_create", "service")), None)
        events = None
        if create is not None and "live_events" in (args.only or ["live_events"]):
            log("live events: a second instance on the service's database")
            service = systems["service"]
            env = peers.environment(service.database_url, secret, 4)
            with uvicorn_server(env, bench.workdir) as other:
                load = functools.partial(bench.start, create, service, args.duration)
                events = live.measure(service.url, other.url, load)
        stack.close()
        table = {key: summary(values) for key, values in runs.items()}
        passed = report(table, per_hash, cost_ms, args.runs, events)
    admin.dispose()
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
