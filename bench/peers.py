"""The systems under test, each a server started by the reliability tests' helpers: Todo API, and
the peers it is measured against (../shared/peers: the Starlette + psycopg2 floor and the
tutorial-style FastAPI app; PostGraphile 4 from npm, pinned in bench/package.json, on Todo API's
own database)."""

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests import better_auth_server
from tests.reliability.servers import (
    HOST,
    Server,
    fresh_database,
    production_env,
    serving,
    uvicorn_server,
)

BENCH = Path(__file__).resolve().parent
PEERS = BENCH.parent.parent / "shared" / "peers"
APPS = {
    "service": ("app.main:app",),  # as production runs it: JSON logs, an access line each
    "floor": ("floor_app:app", "--app-dir", str(PEERS)),
    "naive": ("naive_app:app", "--app-dir", str(PEERS)),
}
UNLIMITED = "1000000000"


def environment(database_url: str, secret: str, bcrypt_rounds: int) -> dict[str, str]:
    """Production settings with one secret for all (the bench decodes its tokens), and no
    throttle in the way of the login scenarios, nor of the write scenarios (one user creates
    thousands of tasks a minute there: USER_WRITES_PER_MINUTE=0 turns the write limit off)."""
    return production_env(
        database_url, JWT_SECRET=secret, BCRYPT_ROUNDS=str(bcrypt_rounds),
        LOGIN_MAX_FAILURES=UNLIMITED, LOGIN_MAX_FAILURES_PER_ADDRESS=UNLIMITED,
        SIGNUP_MAX_PER_ADDRESS=UNLIMITED, USER_WRITES_PER_MINUTE="0",
    )  # fmt: skip


@contextlib.contextmanager
def uvicorn_system(
    name: str,
    admin_url: str,
    logs: Path,
    secret: str,
    bcrypt_rounds: int,
    workers: int = 1,
    **settings: str,
) -> Iterator[Server]:
    """`name` is a key of APPS, on a fresh database (the peers create their own tables), with
    `settings` added to its environment."""
    with (
        fresh_database(admin_url, f"bench_{name}", migrated=name == "service") as url,
        uvicorn_server(environment(url, secret, bcrypt_rounds) | settings, logs, workers=workers,
                       app=APPS[name]) as server,
    ):  # fmt: skip
        yield server


def better_auth(logs: Path) -> contextlib.AbstractContextManager[Server] | None:
    """A real Better Auth server, the tests' (tests/better_auth/server.mjs, pinned by its
    package-lock.json): the service accepts its tokens, for the Better Auth scenario. Its modules
    come from `npm ci` on first use; None without Node."""
    node = shutil.which("node")
    if node is None:
        return None
    if not (better_auth_server.TOOLS / "node_modules" / ".package-lock.json").is_file():
        if shutil.which("npm") is None:
            return None
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=better_auth_server.TOOLS, check=True
        )
    return better_auth_server.serve(node, secrets.token_urlsafe(32), logs)


def postgraphile(database_url: str, logs: Path) -> contextlib.AbstractContextManager[Server] | None:
    """PostGraphile 4 on Todo API's database: the same tables, its generated schema, batching
    on. Its binary comes from bench/package-lock.json (`npm ci` on first use); None without npm,
    and GraphQL is then measured against our own REST list instead."""
    binary = BENCH / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        if shutil.which("npm") is None:
            return None
        print("installing PostGraphile 4 with npm ci (bench/package-lock.json)", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)

    def command(port: int) -> list[str]:
        return [
            str(binary), "--connection", database_url.replace("+psycopg2", ""), "--host", HOST,
            "--port", str(port), "--disable-query-log", "--enable-query-batching",
            "--simple-collections", "both",
        ]  # fmt: skip

    # Not server_env: PostGraphile would take its JWT_SECRET and refuse the bench's tokens.
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": database_url}
    return serving(command, env, logs)
