"""`python -m bench.ab REV`: the service at git revision REV and as checked out, side by side.

Both run at once, one uvicorn worker each, on fresh databases of their own (both migrated by the
checked-out code's migrations: fine while the revisions between only add to the schema), seeded
alike through their own APIs. Then `rest_list` and `gql_list` are measured on each, interleaved
(the order flips each run), and the medians printed: req/s and the server's CPU per request.
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

from bench import peers, scenarios, wrk
from bench.__main__ import cpu_seconds, log
from bench.scenarios import GQL_LIST, post
from tests.reliability.servers import Server, fresh_database, uvicorn_server

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("rest_list", "gql_list")


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
    stack: contextlib.ExitStack, admin_url: str, work: Path, app: tuple[str, ...], secret: str
) -> tuple[Server, dict[str, wrk.Request]]:
    url = stack.enter_context(fresh_database(admin_url, "bench_ab"))
    env = peers.environment(url, secret, 4)
    server = stack.enter_context(uvicorn_server(env, work, app=app))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        lister = scenarios.account(client, "lister")
        scenarios.seed_list(client, lister, url)
    requests = {
        "rest_list": wrk.Request("GET", "/api/tasks", lister.bearer),
        "gql_list": post("/graphql", lister, {"query": GQL_LIST}),
    }
    return server, requests


def measure(
    server: Server, request: wrk.Request, logs: Path, seconds: float
) -> tuple[float, float]:
    """req/s and the server's CPU ms per request, over `seconds` after 2 s of warm-up; a run
    with errors is no measure."""
    wrk.finish(wrk.start(server.url, request, logs, seconds=2, connections=32, threads=2), 2)
    before = cpu_seconds(server.process.pid)
    load = wrk.start(server.url, request, logs, seconds=seconds, connections=32, threads=2)
    result = wrk.finish(load, seconds)
    if result.errors:
        raise SystemExit(f"{result.errors} errors on {server.url}{request.path}")
    used = 1000 * (cpu_seconds(server.process.pid) - before)
    return result.rps, used / max(result.requests, 1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("revision", help="the other side, e.g. a commit or main~3")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    secret = os.urandom(32).hex()
    with (
        tempfile.TemporaryDirectory(prefix="todo-ab-logs-") as logs,
        checkout(args.revision) as other,
        contextlib.ExitStack() as stack,
    ):
        sides = {
            args.revision: ("app.main:create_app", "--factory", "--app-dir", str(other)),
            "checked out": ("app.main:create_app", "--factory"),
        }
        systems = {name: seeded(stack, args.admin_url, Path(logs), app, secret)
                   for name, app in sides.items()}  # fmt: skip
        cpu: dict[tuple[str, str], list[float]] = {}
        rps: dict[tuple[str, str], list[float]] = {}
        for run in range(args.runs):
            order = list(sides) if run % 2 == 0 else list(sides)[::-1]
            for scenario in SCENARIOS:
                for name in order:
                    server, requests = systems[name]
                    rate, used = measure(server, requests[scenario], Path(logs), args.duration)
                    cpu.setdefault((name, scenario), []).append(used)
                    rps.setdefault((name, scenario), []).append(rate)
                    log(f"run {run + 1} {scenario:<9} {name:<12} {rate:7.1f} req/s "
                        f"{used:5.2f} ms CPU/req")  # fmt: skip
        for (name, scenario), values in cpu.items():
            log(f"{scenario:<9} {name:<12} median {statistics.median(rps[name, scenario]):7.1f} "
                f"req/s, {statistics.median(values):5.2f} ms CPU/req (runs: "
                f"{', '.join(f'{value:.2f}' for value in values)})")  # fmt: skip


if __name__ == "__main__":
    main()
