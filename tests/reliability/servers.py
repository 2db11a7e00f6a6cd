"""Real processes for the reliability tests: uvicorn servers, fresh databases, a private PostgreSQL.

Everything here is bounded: every wait has a deadline, every process started is stopped by the
context manager that started it, ports come from fixed ranges (servers 8200-8299, the private
PostgreSQL 25400-25499) and all traffic stays on 127.0.0.1.
"""

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.settings import Settings
from tests.conftest import ROOT, TEST_SECRET, migrate

HOST = "127.0.0.1"
# Both ranges lie below Linux's ephemeral ports (32768-60999 by default): a port in that range,
# left free while a cluster is stopped for an outage test, can be handed to an outgoing
# connection, and the cluster then cannot bind it again when it restarts.
SERVER_PORTS = range(8200, 8300)
POSTGRES_PORTS = range(25400, 25500)
READY_TIMEOUT = 30.0


def free_port(ports: range) -> int:
    """A port of `ports` nobody listens on right now (a later bind may still lose a race)."""
    candidates = list(ports)
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    """A server process (uvicorn, the bench's PostGraphile, the Better Auth test server); `log`
    holds its output, `database_url` is empty for a server without a database."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    database_url: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return _tail(self.log)


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a test server: every setting explicit, so no `.env` can change it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT"}
    }
    env.update(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "JWT_SECRET": TEST_SECRET,
            "BCRYPT_ROUNDS": "4",
            "RATE_LIMIT_STORAGE_URL": "memory://",
            "LOGIN_MAX_FAILURES": "5",
            "LOGIN_WINDOW_SECONDS": "900",
            "SIGNUP_MAX_PER_ADDRESS": "10000",
            "REQUEST_BODY_TIMEOUT": "2",  # short, so the slow-body tests wait little
            "LOGIN_MAX_FAILURES_PER_ADDRESS": "10000",
            # Load tests' writers outrun a person's writes a minute on a fast machine; the write
            # limit has its own tests (tests/test_write_limits.py).
            "USER_WRITES_PER_MINUTE": "0",
            "POOL_SIZE": "5",
            "POOL_TIMEOUT": "5",
            "DB_CONNECT_TIMEOUT": "5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """A production server for load (the bench, the soak): server_env's short test values put
    back to the defaults, a fresh secret, and access tokens that outlive the run."""
    return server_env(
        database_url,
        **{
            "ENVIRONMENT": "production",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "ACCESS_TOKEN_MINUTES": "120",
            "POOL_SIZE": "10",
            "REQUEST_BODY_TIMEOUT": "15",
            **overrides,
        },
    )


def _wait_ready(server: Server, deadline: float) -> None:
    """Until the server answers any HTTP status on /api/health (503, or PostGraphile's 404, still
    means it is up)."""
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{server.url}/api/health", timeout=2.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"server not ready within {READY_TIMEOUT} s:\n{server.tail()}")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not gone within `timeout`."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


class Started(Protocol):
    """A process started on a port: a `Server`, or the topology's `Daemon`."""

    @property
    def process(self) -> "subprocess.Popen[bytes]": ...


S = TypeVar("S", bound=Started)


@contextlib.contextmanager
def on_a_free_port(
    what: str,
    start: Callable[[int], S],
    wait_ready: Callable[[S], None],
    output: Callable[[S], str],
) -> Iterator[S]:
    """`start(port)` on a free port of 8200-8299, then `wait_ready` (which raises `RuntimeError`
    when it will not be); its process stopped on exit. A port lost to a race (its `output` says
    "address already in use") is retried on another, at most three times."""
    for _attempt in range(3):
        started = start(free_port(SERVER_PORTS))
        try:
            wait_ready(started)
        except RuntimeError:
            stop_process(started.process)
            if "address already in use" in output(started).lower():
                continue
            raise
        try:
            yield started
        finally:
            stop_process(started.process)
        return
    raise RuntimeError(f"{what} could not bind a port in three attempts")


def serving(
    command: Callable[[int], Sequence[str]], env: Mapping[str, str], log_dir: Path
) -> contextlib.AbstractContextManager[Server]:
    """Start `command(port)` on a free port (`on_a_free_port`) and wait until it answers HTTP;
    stop it on exit. The process gets its own process group (so `--workers` children go with
    it)."""

    def start(port: int) -> Server:
        log = log_dir / f"server-{port}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(  # noqa: S603 (our own programs and arguments)
                command(port),
                cwd=ROOT,
                env=dict(env),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Server(process, port, log, database_url=env.get("DATABASE_URL", ""))

    return on_a_free_port(
        "a server",
        start,
        lambda server: _wait_ready(server, time.monotonic() + READY_TIMEOUT),
        Server.log_text,
    )


def uvicorn_server(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    workers: int = 1,
    options: Sequence[str] = (),
    app: Sequence[str] = ("app.factory:create_app", "--factory"),
) -> contextlib.AbstractContextManager[Server]:
    """uvicorn serving `app` (the service by default), as `serving` starts and stops it."""

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", *app, "--host", HOST, "--port", str(port),
            "--no-access-log", "--workers", str(workers), "--timeout-graceful-shutdown", "3",
            *options,
        ]  # fmt: skip

    return serving(command, env, log_dir)


def admin_url(url: str | None = None) -> str:
    """The psycopg2 URL of the shared PostgreSQL named by `url` (default: TEST_DATABASE_URL)."""
    return Settings(
        database_url=url or os.environ["TEST_DATABASE_URL"], jwt_secret=TEST_SECRET
    ).database_url


def _admin_execute(server_url: str, statement: str) -> None:
    """One statement outside a transaction, on a connection of its own (the server may have
    restarted since the last one)."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@contextlib.contextmanager
def fresh_database(
    server_url: str, prefix: str = "todo_rel", *, migrated: bool = True
) -> Iterator[str]:
    """A new database on the server of `server_url`, migrated to head (unless not `migrated`),
    dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, if any."""
    found = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "initdb").exists() and (path / "pg_ctl").exists()
    ]
    if not found:
        return None
    return max(found, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temporary folder, on its own port in 25400-25499.

    initdb refuses to run as root, so as root every binary runs as the `postgres` OS user (the
    folder is handed to that user). Stopping and starting it never touches the shared server.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="todo-rel-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.port = free_port(POSTGRES_PORTS)
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(  # noqa: S603 (fixed binaries, our arguments)
            command, capture_output=True, timeout=timeout, check=False, cwd=self.root
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:1])} failed ({result.returncode}):\n{output}\n{log}"
            )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@{HOST}:{self.port}/postgres"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses={HOST}"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w",
            "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres(bin_dir: Path) -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
