"""`python -m bench.ab REV`: the service at git revision REV and as checked out, side by side.

Both run at once, one uvicorn worker each, on fresh databases of their own (both migrated by the
checked-out code's migrations: fine while the revisions between only add to the schema), seeded
alike through their own APIs. Then `rest_list`, `gql_list` and `gql_batch` are measured on each,
interleaved (the order flips each run), and the medians printed: req/s and the server's CPU per
request.
Two runs of `make bench` on different code, one after the other, differ by the machine's mood as
much as by the code (docs/performance.md); this compares them in the same minutes.
"""

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench import peers, scenarios, wrk
from bench.__main__ import Bench, log
from bench.scenarios import GQL_BATCH, GQL_LIST, Scenario, expect, post
from tests.reliability.servers import Server, fresh_database, uvicorn_server

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """A detached worktree of `revision`, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="todo-ab-") as parent:
        path = Path(parent) / "tree"
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "--detach", str(path), revision], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "remove", "--force", str(path)], check=True)


def seeded(
    stack: contextlib.ExitStack,
    admin_url: str,
    work: Path,
    side: str,
    app: tuple[str, ...],
    secret: str,
) -> tuple[Server, dict[str, Scenario]]:
    """The service of one side, started and seeded, and its scenarios (their checks are the
    bench's job; here both sides answer the same requests)."""
    url = stack.enter_context(fresh_database(admin_url, "bench_ab"))
    env = peers.environment(url, secret, 4)
    server = stack.enter_context(uvicorn_server(env, work, app=app))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        lister = scenarios.account(client, "lister")
        scenarios.seed_list(client, lister, url)
    requests = {
        "rest_list": wrk.Request("GET", "/api/tasks", lister.bearer),
        "gql_list": post("/graphql", lister, {"query": GQL_LIST}),
        "gql_batch": post("/graphql", lister, GQL_BATCH),
    }
    return server, {
        name: Scenario(name, side, request, expect(200)) for name, request in requests.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("revision", help="the other side, e.g. a commit or main~3")
    parser.add_argument(
        "--other-app",
        default="app.factory:create_app",
        help="the other side's app factory (before 780fe52: app.main:create_app)",
    )
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after each load")
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    secret = os.urandom(32).hex()
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with (
        tempfile.TemporaryDirectory(prefix="todo-ab-logs-") as logs,
        checkout(args.revision) as other,
        contextlib.ExitStack() as stack,
    ):
        bench = Bench(args, Path(logs), admin)
        sides = {
            args.revision: (args.other_app, "--factory", "--app-dir", str(other)),
            "checked out": ("app.factory:create_app", "--factory"),
        }
        systems = {name: seeded(stack, args.admin_url, bench.workdir, name, app, secret)
                   for name, app in sides.items()}  # fmt: skip
        labels = list(systems[args.revision][1])
        cpu: dict[tuple[str, str], list[float]] = {}
        rps: dict[tuple[str, str], list[float]] = {}
        for run in range(args.runs):
            order = list(sides) if run % 2 == 0 else list(sides)[::-1]
            for label in labels:
                for name in order:
                    server, found = systems[name]
                    scenario = found[label]
                    measured = bench.measure(scenario, server)
                    if measured.errors:  # a run with errors is no measure
                        raise SystemExit(f"{measured.errors} errors: {scenario.name} on {name}")
                    cpu.setdefault((name, scenario.name), []).append(measured.cpu_ms)
                    rps.setdefault((name, scenario.name), []).append(measured.rps)
                    log(f"run {run + 1} {scenario.name:<9} {name:<12} {measured.rps:7.1f} req/s "
                        f"{measured.cpu_ms:5.2f} ms CPU/req, {measured.errors} errors")  # fmt: skip
        for (name, label), values in cpu.items():
            log(f"{label:<9} {name:<12} median {statistics.median(rps[name, label]):7.1f} "
                f"req/s, {statistics.median(values):5.2f} ms CPU/req (runs: "
                f"{', '.join(f'{value:.2f}' for value in values)})")  # fmt: skip
    admin.dispose()


if __name__ == "__main__":
    main()
