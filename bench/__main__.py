"""`make bench`: the service and a bare baseline on PostgreSQL, driven by wrk, in one table.

Everything it starts (the database, both servers, wrk) it stops, however it ends. See README.md.
"""

import argparse
import json
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import bcrypt
import httpx

from app.settings import Settings
from bench import database, inprocess, machine, profile, report, seed
from bench.processes import HOST, Children, free_port, raise_on_sigterm, wait_until_ready
from bench.scenarios import GQL_BATCH, GQL_PAGE, Scenario, Setup, scenarios, send
from bench.wrk import Wrk, WrkResult, ensure_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BCRYPT_ROUNDS = 12
LIST_TASKS = 50
LIST_COMPLETED = 10
DEEP_TASKS = 10_000
DEEP_START = 9_950  # the deep page starts at this task (1-based) of DEEP_TASKS
MID_START = 5_001  # and the middle page at this one
WRK_TIMEOUT_S = 30  # logins queue behind bcrypt for seconds: wrk's default of 2 s would cut them
MAX_STATEMENTS = 5  # what "a small number of SQL statements per request" is taken to mean


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (both servers)")
    parser.add_argument(
        "--runs", type=int, default=3, help="measured runs per scenario; the table shows medians"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--only", nargs="*", default=None, help="run only these scenarios (names as in the table)"
    )
    parser.add_argument(
        "--admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL allowed to create and drop databases",
    )
    parser.add_argument("--database", default="todo_bench", help="created fresh, dropped after")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="sample the service with py-spy during this scenario's measured runs",
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="with --profile: only samples holding the GIL"
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=0,
        metavar="SECONDS",
        help="keep the servers up this long after the runs (setup written to bench/results/)",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    return parser.parse_args(argv)


def seconds_per_hash(samples: int = 3) -> float:
    """bcrypt at the service's cost, in this process, on this machine: the median of a few."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        bcrypt.hashpw(b"Bench-Passw0rd", bcrypt.gensalt(BCRYPT_ROUNDS))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def server_env(url: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BETTER_AUTH_SECRET"}
    env.update(
        ENVIRONMENT="production",
        DATABASE_URL=url,
        JWT_SECRET=secret,
        BCRYPT_ROUNDS=str(BCRYPT_ROUNDS),
        # Storm logins all succeed and use up no throttle budget; a high limit is belt and braces.
        LOGIN_MAX_FAILURES="1000000000",
        RATE_LIMIT_STORAGE_URL="memory://",
        ACCESS_TOKEN_MINUTES="120",  # the seeded tokens must outlive the whole run
    )
    return env


def log(message: str) -> None:
    print(message, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, children: Children) -> None:
        self.args = args
        self.workdir = workdir
        self.children = children
        self.secret = secrets.token_urlsafe(48)
        self.url = database.database_url(args.admin_url, args.database)
        self.env = server_env(self.url, self.secret)
        self.settings = Settings(
            environment="production",
            database_url=self.url,
            jwt_secret=self.secret,
            bcrypt_rounds=BCRYPT_ROUNDS,
            login_max_failures=1_000_000_000,
            access_token_minutes=120,
        )
        self.urls: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self.profiles: list[Path] = []
        self.record: dict[str, object] = {}

    def start_server(self, name: str, app: str, health: str) -> str:
        port = free_port({int(u.rsplit(":", 1)[1]) for u in self.urls.values()})
        command = [
            sys.executable, "-m", "uvicorn", app, "--factory", "--host", HOST, "--port", str(port),
            "--workers", str(self.args.workers), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        log_file = self.workdir / f"{name}.log"
        process = self.children.spawn(command, env=self.env, cwd=ROOT, log=log_file)
        base = f"http://{HOST}:{port}"
        wait_until_ready(process, base + health, log_file)
        self.urls[name] = base
        self.pids[name] = process.pid
        log(f"  {name}: {app} on {base}, {self.args.workers} worker(s), pid {process.pid}")
        return base

    def prepare(self) -> Setup:
        log(f"database {self.args.database}: create, migrate")
        database.create_database(self.args.admin_url, self.args.database)
        database.migrate(ROOT, self.env)
        self.start_server("service", "app.main:create_app", "/api/health")
        log("seeding through the API: 4 accounts, 50 tasks (10 completed)")
        with httpx.Client(base_url=self.urls["service"], timeout=30) as client:
            lister = seed.account(client, "lister@bench.example", "Lister")
            creator = seed.account(client, "creator@bench.example", "Creator")
            login = seed.account(client, "login@bench.example", "Login")
            deep = seed.account(client, "deep@bench.example", "Deep")
            seed.tasks(client, lister, LIST_TASKS, LIST_COMPLETED)
        log(f"bulk rows: {DEEP_TASKS} tasks of one user, plus other users' tasks; ANALYZE")
        database.bulk_tasks(self.url, deep.user_id, DEEP_TASKS)
        database.bulk_other_users(self.url)
        database.analyze(self.url)
        mid = database.cursor_before(self.url, deep.user_id, MID_START - 1, self.secret)
        deep_cursor = database.cursor_before(self.url, deep.user_id, DEEP_START - 1, self.secret)
        self.start_server("baseline", "bench.baseline:create_app", "/health")
        return Setup(
            lister=lister,
            creator=creator,
            login=login,
            deep=deep,
            mid_cursor=mid.cursor,
            mid_first_id=mid.next_id,
            deep_cursor=deep_cursor.cursor,
            deep_first_id=deep_cursor.next_id,
        )

    def graphql_available(self) -> bool:
        try:
            response = httpx.post(
                self.urls["service"] + "/graphql", json={"query": "{ __typename }"}, timeout=10
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and "data" in response.json()

    def compare_baseline(self, setup: Setup) -> str:
        answers = [
            httpx.get(self.urls[name] + "/api/tasks", headers=setup.lister.bearer, timeout=10)
            for name in ("service", "baseline")
        ]
        same_body = answers[0].json() == answers[1].json()
        same_count = answers[0].headers.get("x-total-count") == answers[1].headers.get(
            "x-total-count"
        )
        if same_body and same_count:
            return "the baseline's answer equals the service's (JSON body and X-Total-Count)"
        return (
            f"WARNING: the baseline's answer differs (body equal: {same_body}, "
            f"X-Total-Count equal: {same_count})"
        )

    def statement_counts(self, setup: Setup, graphql: bool) -> list[inprocess.StatementCount]:
        calls = [
            inprocess.Call("rest_list (50 rows)", "GET", "/api/tasks", setup.lister.bearer),
            inprocess.Call(
                "rest_list (100 of 10,000 rows)", "GET", "/api/tasks", setup.deep.bearer
            ),
        ]
        if graphql:
            owner_page = "query { tasks(first: %d) { nodes { id title owner { name } } } }"
            calls += [
                inprocess.Call(
                    "gql_list (50 nodes)",
                    "POST",
                    "/graphql",
                    setup.lister.bearer,
                    {"query": owner_page % 50},
                ),
                inprocess.Call(
                    "gql_list (200 nodes)",
                    "POST",
                    "/graphql",
                    setup.deep.bearer,
                    {"query": owner_page % 200},
                ),
                inprocess.Call("gql_batch", "POST", "/graphql", setup.lister.bearer, GQL_BATCH),
                inprocess.Call(
                    "deep_page",
                    "POST",
                    "/graphql",
                    setup.deep.bearer,
                    {"query": GQL_PAGE, "variables": {"after": setup.deep_cursor}},
                ),
            ]
        return inprocess.count_statements(self.settings, calls)

    def drive(
        self, scenario: Scenario, wrk: Wrk, seconds: float, run: int = 0
    ) -> tuple[WrkResult, WrkResult | None]:
        """Load for `seconds`; with a storm, a second wrk sends logins at the same time.
        A measured run (`run` > 0) of the `--profile` scenario is sampled by py-spy."""
        base, connections = self.urls[scenario.server], self.args.connections
        spy = None
        if run and scenario.name == self.args.profile:
            binary = profile.py_spy()
            if binary is None:
                raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
            output = RESULTS / f"profile-{scenario.name}-{run}.txt"
            self.profiles.append(output)
            spy = profile.start(
                binary,
                self.pids[scenario.server],
                seconds,
                output,
                gil=self.args.profile_gil,
                children=self.children,
            )
        main = wrk.start(
            base,
            scenario.request,
            seconds=seconds,
            connections=connections,
            threads=self.args.threads,
            timeout_s=WRK_TIMEOUT_S,
        )
        storm = None
        if scenario.storm is not None:
            # One thread is plenty for a few logins a second, and leaves the CPU to the server.
            storm = wrk.start(
                base,
                scenario.storm,
                seconds=seconds,
                connections=connections,
                threads=1,
                timeout_s=WRK_TIMEOUT_S,
            )
        result = wrk.finish(main, seconds)
        storm_result = wrk.finish(storm, seconds) if storm is not None else None
        if spy is not None:
            profile.finish(spy, seconds, self.children)
        return result, storm_result

    def run(self) -> int:
        args = self.args
        wrk = Wrk(ensure_wrk(), self.workdir, self.children)
        cores = os.cpu_count() or 1
        quiet = machine.OtherLoad([], args.database)
        time.sleep(1)
        busy = quiet.cores()
        log(f"other load before starting: {busy:.2f} cores of {cores}")
        if busy > 0.25:
            log("WARNING: the machine is busy with other work; the numbers will be low and noisy")
        per_hash = seconds_per_hash()
        log(
            f"bcrypt cost {BCRYPT_ROUNDS}: {per_hash * 1000:.0f} ms per hash in-process; "
            f"bound = {cores} cores / {per_hash:.3f} s = {cores / per_hash:.1f} logins/s"
        )
        setup = self.prepare()
        graphql = self.graphql_available()
        log(f"GraphQL at /graphql: {'yes' if graphql else 'no'}")
        findings = Findings(
            cores=cores,
            seconds_per_hash=per_hash,
            graphql=graphql,
            equivalence=self.compare_baseline(setup),
        )
        log(findings.equivalence)
        log("counting SQL per request in-process (TestClient + SQLAlchemy events)")
        findings.counts = self.statement_counts(setup, graphql)
        for label, cursor in (
            (f"deep page (after task {DEEP_START - 1} of {DEEP_TASKS})", setup.deep_cursor),
            (f"middle page (after task {MID_START - 1} of {DEEP_TASKS})", setup.mid_cursor),
        ):
            statement, plan = inprocess.explain_page(self.settings, setup.deep.user_id, cursor, 50)
            findings.plans.append((label, statement, plan))

        RESULTS.mkdir(parents=True, exist_ok=True)
        chosen, skipped = self.select(scenarios(setup), graphql)
        results: dict[str, list[WrkResult]] = defaultdict(list)
        others: dict[str, list[float]] = defaultdict(list)
        # Logins that wrk gave up on at the end of a run are still queued behind bcrypt.
        drain_s = math.ceil(args.connections * per_hash / cores) + 1
        for run in range(1, args.runs + 1):
            for scenario in chosen:
                if args.warmup > 0:
                    self.drive(scenario, wrk, args.warmup)
                    if scenario.drain:
                        time.sleep(drain_s)
                load = machine.OtherLoad(self.children.groups(), args.database)
                result, storm = self.drive(scenario, wrk, args.duration, run)
                other = load.cores()
                results[scenario.name].append(result)
                others[scenario.name].append(other)
                line = (
                    f"  run {run}/{args.runs} {scenario.name:<17} {result.rps:8.1f} req/s "
                    f"p50 {result.p50_ms:7.1f} ms p99 {result.p99_ms:7.1f} ms "
                    f"errors {result.errors}"
                )
                if result.errors:
                    line += f" (last bad status {result.last_bad_status})"
                line += f"; other load {other:.2f} cores"
                if storm is not None:
                    results[report.STORM].append(storm)
                    others[report.STORM].append(other)
                    line += f"; logins {storm.rps:.1f}/s, errors {storm.errors}"
                log(line)
                if scenario.drain:
                    time.sleep(drain_s)

        measured = {name: report.median(runs, others[name]) for name, runs in results.items()}
        if "list_under_login" in skipped:
            skipped[report.STORM] = skipped["list_under_login"]
        table = report.rows(measured, cores / per_hash, skipped)
        passed = self.print_report(table, findings)
        if self.profiles:
            log("")
            gil = " (only samples holding the GIL)" if args.profile_gil else ""
            log(f"py-spy profile of the service during {args.profile}{gil}:")
            for line in profile.summarize(self.profiles):
                log(line)
        self.save(table, results, findings)
        if args.hold > 0:
            self.hold(setup)
        return 0 if passed or not args.strict else 1

    def hold(self, setup: Setup) -> None:
        """Leave the servers up for manual probing; their addresses and tokens go to a file."""
        path = RESULTS / "hold.json"
        data = {"urls": self.urls, "pids": self.pids, "setup": asdict(setup)}
        path.write_text(json.dumps(data, indent=2, default=str))
        log(f"holding the servers for {self.args.hold:g} s; addresses and tokens in {path}")
        time.sleep(self.args.hold)

    def select(self, every: list[Scenario], graphql: bool) -> tuple[list[Scenario], dict[str, str]]:
        """The scenarios to run: each answered once correctly before it gets any load."""
        chosen: list[Scenario] = []
        skipped: dict[str, str] = {}
        with httpx.Client(timeout=30) as client:
            for scenario in every:
                if self.args.only is not None and scenario.name not in self.args.only:
                    skipped[scenario.name] = "not run (--only)"
                    continue
                if scenario.graphql and not graphql:
                    skipped[scenario.name] = "n/a (no /graphql)"
                    continue
                client.base_url = httpx.URL(self.urls[scenario.server])
                problem = scenario.check(send(client, scenario.request))
                if problem is None and scenario.storm is not None:
                    problem = _status(send(client, scenario.storm), 200)
                if problem is not None:
                    skipped[scenario.name] = f"not run: its check failed: {problem}"
                    log(f"  {scenario.name}: check failed: {problem}")
                    continue
                chosen.append(scenario)
        return chosen, skipped

    def print_report(self, table: list[report.Row], findings: "Findings") -> bool:
        """Print the table and what goes with it; True when every target is met."""
        args = self.args
        log("")
        log(
            f"Todo API load benchmark: PostgreSQL, {args.workers} uvicorn worker(s), "
            f"wrk {args.threads} threads x {args.connections} connections, "
            f"{args.duration:g} s after {args.warmup:g} s warm-up, median of {args.runs} run(s)"
        )
        log("")
        log(report.render(table))
        log("")
        log(
            f"bcrypt bound: {findings.cores} cores / {findings.seconds_per_hash:.3f} s "
            f"per cost-{BCRYPT_ROUNDS} hash, timed in-process before the servers started"
        )
        log(f"baseline: {findings.equivalence}")
        log("")
        statements_ok = self.print_statements(findings)
        log("")
        index_ok = True
        for n, (label, statement, plan) in enumerate(findings.plans):
            uses_index = any("ix_tasks_listing" in line for line in plan)
            verdict = ("PASS" if uses_index else "FAIL") if n == 0 else "(info)"
            index_ok = index_ok and (uses_index or n > 0)
            log(
                f"EXPLAIN ANALYZE of the keyset query for the {label}, "
                f"uses ix_tasks_listing: {uses_index} {verdict}"
            )
            log(f"  {_plan_cost(plan)}")
            if n == 0:
                log("  " + " ".join(statement.split()))
            for line in plan:
                log("    " + line)
            log("")
        errors = {row.scenario: row.measured.errors for row in table if row.measured}
        no_errors = not any(errors.values())
        log("zero errors in every scenario: " + ("PASS" if no_errors else f"FAIL {errors}"))
        ratios_ok = all(row.passed for row in table if row.passed is not None)
        return ratios_ok and statements_ok and index_ok and no_errors

    def print_statements(self, findings: "Findings") -> bool:
        log(
            "SQL per request, in-process (TestClient; SQLAlchemy events; "
            f"{inprocess.COUNTED_REQUESTS} requests after {inprocess.WARMUP_REQUESTS} warm-up):"
        )
        log(f"  {'':<32} statements  round trips = + pre-pings + BEGIN/COMMIT/ROLLBACK")
        by_name: dict[str, list[float]] = defaultdict(list)
        for count in findings.counts:
            by_name[count.name.split(" ")[0]].append(count.statements)
            log(
                f"  {count.name:<32} {count.statements:10.1f}  {count.round_trips:11.1f}"
                f" = + {count.pings:.1f} + {count.transactions:.1f}   [HTTP {count.status}]"
            )
        ok = True
        for name in ("rest_list", "gql_list"):
            values = by_name.get(name)
            if not values:
                log(f"  {name}: n/a (no /graphql)")
                continue
            constant = len(set(values)) == 1 and max(values) <= MAX_STATEMENTS
            ok = ok and constant
            log(
                f"  {name}: the same number at both sizes, and at most {MAX_STATEMENTS}: "
                f"{'PASS' if constant else 'FAIL'}"
            )
        if findings.counts:
            log("  the statements of one rest_list request:")
            for text in findings.counts[0].samples:
                log(f"    {text}")
        return ok

    def save(
        self,
        table: list[report.Row],
        results: dict[str, list[WrkResult]],
        findings: "Findings",
    ) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
        data = {
            "args": vars(self.args),
            "table": [asdict(row) for row in table],
            "runs": {name: [asdict(r) for r in runs] for name, runs in results.items()},
            "findings": asdict(findings),
        }
        path.write_text(json.dumps(data, indent=2, default=str))
        log(f"raw results: {path.relative_to(ROOT)}")


@dataclass
class Findings:
    """What is printed below the table."""

    cores: int
    seconds_per_hash: float
    graphql: bool
    equivalence: str
    counts: list[inprocess.StatementCount] = field(default_factory=list)
    plans: list[tuple[str, str, list[str]]] = field(default_factory=list)


def _plan_cost(plan: list[str]) -> str:
    """Whether the page costs what the first page costs: rows read and thrown away to reach it."""
    removed = sum(
        int(line.split(":")[1]) for line in plan if line.strip().startswith("Rows Removed by")
    )
    sorts = sum(1 for line in plan if line.strip().startswith("->  Sort"))
    return (
        f"rows read and discarded before the page: {removed}; "
        f"sorts: {sorts} (a page that costs what the first costs reads ~0 and sorts 0)"
    )


def _status(response: httpx.Response, expected: int) -> str | None:
    if response.status_code == expected:
        return None
    return f"status {response.status_code}: {response.text[:200]}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    raise_on_sigterm()
    children = Children()
    status = 1
    with tempfile.TemporaryDirectory(prefix="todo-bench-") as tmp:
        bench = Bench(args, Path(tmp), children)
        try:
            status = bench.run()
        finally:
            children.stop_all()
            if not args.keep_database:
                database.drop_database(args.admin_url, args.database)
            log(f"stopped everything started; {time.monotonic() - started:.0f} s in all")
    return status


if __name__ == "__main__":
    sys.exit(main())
