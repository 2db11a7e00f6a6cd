"""The systems under test, each on a fresh PostgreSQL database of its own: Todo API, and the peers
it is measured against (../shared/peers: the Starlette + psycopg2 floor and the tutorial-style
FastAPI app; PostGraphile 4 from npm, pinned in bench/package.json, on Todo API's own database).

Servers start through the reliability tests' helpers, so the bench and the tests run them alike.
"""

import contextlib
import os
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
    server_env,
    stop_process,
    uvicorn_server,
)

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT.parent / "shared" / "peers"
BENCH = ROOT / "bench"


@dataclass(frozen=True)
class System:
    name: str
    url: str
    pid: int  # the process group of the server (workers included)
    database_url: str


def service_env(database_url: str, secret: str, bcrypt_rounds: int) -> dict[str, str]:
    return server_env(
        database_url,
        ENVIRONMENT="production",
        JWT_SECRET=secret,
        BCRYPT_ROUNDS=str(bcrypt_rounds),
        ACCESS_TOKEN_MINUTES="120",  # the seeded tokens outlive the run
        LOGIN_MAX_FAILURES="1000000000",
        LOGIN_MAX_FAILURES_PER_ADDRESS="1000000000",
        SIGNUP_MAX_PER_ADDRESS="1000000000",
        REQUEST_BODY_TIMEOUT="15",
        POOL_SIZE="10",  # the default (the floor's pool is 10 too)
    )


@contextlib.contextmanager
def uvicorn_system(
    name: str, admin_url: str, logs: Path, secret: str, bcrypt_rounds: int, workers: int
) -> Iterator[System]:
    """`name` is "service", "floor" or "naive"; the peers create their own tables."""
    app = {
        "service": ("app.main:create_app", "--factory"),
        "floor": ("floor_app:app", "--app-dir", str(PEERS)),
        "naive": ("naive_app:app", "--app-dir", str(PEERS)),
    }[name]
    with fresh_database(admin_url, f"bench_{name}", migrated=name == "service") as url:
        env = service_env(url, secret, bcrypt_rounds)
        with uvicorn_server(env, logs, workers=workers, app=app) as server:
            yield System(name, server.url, server.process.pid, url)


def ensure_postgraphile() -> Path | None:
    """PostGraphile's binary from bench/package-lock.json (`npm ci` on first use); None without
    npm, in which case GraphQL is measured against our own REST list instead."""
    binary = BENCH / "node_modules" / ".bin" / "postgraphile"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        return None
    print("installing PostGraphile 4 with npm ci (bench/package-lock.json)", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)
    return binary


@contextlib.contextmanager
def postgraphile(binary: Path, database_url: str, logs: Path) -> Iterator[System]:
    """PostGraphile 4 on Todo API's database: the same tables, its generated schema, batching on."""
    port = free_port(SERVER_PORTS)
    url = database_url.replace("postgresql+psycopg2://", "postgresql://")
    command = [
        str(binary), "--connection", url, "--host", HOST, "--port", str(port),
        "--disable-query-log", "--enable-query-batching", "--simple-collections", "both",
    ]  # fmt: skip
    with (logs / "postgraphile.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ
        )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, timeout=2)
                if answer.status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("PostGraphile did not start; see postgraphile.log")
        yield System("postgraphile", base, process.pid, database_url)
    finally:
        stop_process(process)
