"""The systems under test, each on a fresh PostgreSQL database of its own: Todo API, and the peers
it is measured against (../shared/peers: the Starlette + psycopg2 floor and the tutorial-style
FastAPI app; PostGraphile 4 from npm, pinned in bench/package.json, on Todo API's own database).

Servers start through the reliability tests' helpers, so the bench and the tests run them alike.
"""

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.reliability.servers import (
    HOST,
    SERVER_PORTS,
    free_port,
    fresh_database,
    production_env,
    stop_process,
    uvicorn_server,
)

BENCH = Path(__file__).resolve().parent
PEERS = BENCH.parent.parent / "shared" / "peers"
APPS = {
    "service": ("app.main:create_app", "--factory"),
    "floor": ("floor_app:app", "--app-dir", str(PEERS)),
    "naive": ("naive_app:app", "--app-dir", str(PEERS)),
}
UNLIMITED = "1000000000"


@dataclass(frozen=True)
class System:
    name: str
    url: str
    pid: int  # the process group of the server (workers included)
    database_url: str


@contextlib.contextmanager
def uvicorn_system(
    name: str, admin_url: str, logs: Path, secret: str, bcrypt_rounds: int, workers: int = 1
) -> Iterator[System]:
    """`name` is a key of APPS; the peers create their own tables."""
    with fresh_database(admin_url, f"bench_{name}", migrated=name == "service") as url:
        env = _env(url, secret, bcrypt_rounds)
        with uvicorn_server(env, logs, workers=workers, app=APPS[name]) as server:
            label = name if workers == 1 else f"{name}-{workers}w"
            yield System(label, server.url, server.process.pid, url)


@contextlib.contextmanager
def second_instance(service: System, logs: Path, secret: str) -> Iterator[System]:
    """Another instance of the service, one worker, on `service`'s database (bench/live.py)."""
    env = _env(service.database_url, secret, 4)
    with uvicorn_server(env, logs, app=APPS["service"]) as server:
        yield System("service-b", server.url, server.process.pid, service.database_url)


def _env(database_url: str, secret: str, bcrypt_rounds: int) -> dict[str, str]:
    return production_env(
        database_url, JWT_SECRET=secret, BCRYPT_ROUNDS=str(bcrypt_rounds),
        LOGIN_MAX_FAILURES=UNLIMITED, LOGIN_MAX_FAILURES_PER_ADDRESS=UNLIMITED,
        SIGNUP_MAX_PER_ADDRESS=UNLIMITED,
    )  # fmt: skip


def ensure_postgraphile() -> Path | None:
    """PostGraphile's binary from bench/package-lock.json (`npm ci` on first use); None without
    npm, in which case GraphQL is measured against our own REST list instead."""
    binary = BENCH / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists() and (npm := shutil.which("npm")) is not None:
        print("installing PostGraphile 4 with npm ci (bench/package-lock.json)", flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)
    return binary if binary.exists() else None


@contextlib.contextmanager
def postgraphile(binary: Path, database_url: str, logs: Path) -> Iterator[System]:
    """PostGraphile 4 on Todo API's database: the same tables, its generated schema, batching on."""
    port = free_port(SERVER_PORTS)
    command = [
        str(binary), "--connection", database_url.replace("+psycopg2", ""), "--host", HOST,
        "--port", str(port), "--disable-query-log", "--enable-query-batching",
        "--simple-collections", "both",
    ]  # fmt: skip
    with (logs / "postgraphile.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    system = System("postgraphile", f"http://{HOST}:{port}", process.pid, database_url)
    try:
        for _ in range(150):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.post(f"{system.url}/graphql", json={"query": "{ __typename }"}).is_success:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("PostGraphile did not start in 30 s; see postgraphile.log")
        yield system
    finally:
        stop_process(process)
