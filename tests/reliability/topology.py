"""The production topology of docs/deployment.md, run from the files in deploy/: Debian's nginx in
front of two instances (`uvicorn app.main:app --workers 2`), Debian's PgBouncer in transaction
mode between them and PostgreSQL, Redis for the throttles, Debian's Prometheus scraping each
instance.

Each deploy/ file is rendered with its `@NAME@` words filled in (ports, addresses, folders) and
nothing else changed, so the documentation can show the files themselves. Every process listens
on a port of 8200-8299 on 127.0.0.1, runs from a folder of its own under the topology's temporary
folder, and is stopped by the context manager that started it; every wait has a deadline.
"""

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.conftest import ROOT
from tests.reliability.servers import (
    HOST,
    READY_TIMEOUT,
    Server,
    on_a_free_port,
    production_env,
    uvicorn_server,
)

DEPLOY = ROOT / "deploy"
PLACEHOLDER = re.compile(r"@([A-Z0-9_]+)@")
NGINX = Path("/usr/sbin/nginx")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
PROMETHEUS = Path("/usr/bin/prometheus")
# Debian's PgBouncer runs as postgres (it refuses root); nginx's workers run as the file's `user`.
PGBOUNCER_USER = "postgres"
# The database name clients give PgBouncer (deploy/pgbouncer.ini's [databases] entry).
POOLED_DATABASE = "todo"
# `make serve`'s options (the Makefile). The app reads the proxy headers itself, trusting the
# FORWARDED_ALLOW_IPS of its environment (nginx): uvicorn's own would hide nginx from it.
INSTANCE_OPTIONS = (
    "--no-proxy-headers", "--timeout-keep-alive", "75", "--http", "h11",
    "--h11-max-incomplete-event-size", "16384", "--ws-max-size", "1048576",
)  # fmt: skip
WORKERS = 2


def missing_programs() -> list[str]:
    """The Debian programs the topology runs that are not installed."""
    return [path.name for path in (NGINX, PGBOUNCER, PROMETHEUS) if not path.exists()]


def render(name: str, values: Mapping[str, str], directory: Path) -> Path:
    """deploy/`name` with each `@NAME@` replaced by `values[NAME]`, written to `directory`.

    A word without a value, or a value for no word, is an error: the rendered file is the deploy/
    file, filled in, and nothing else.
    """
    template = (DEPLOY / name).read_text()
    words = set(PLACEHOLDER.findall(template))
    if words != set(values):
        raise ValueError(
            f"deploy/{name}: no value for {sorted(words - set(values))}, "
            f"no word for {sorted(set(values) - words)}"
        )
    path = directory / name
    path.write_text(PLACEHOLDER.sub(lambda match: values[match.group(1)], template))
    return path


def _logs(directory: Path, lines: int = 30) -> str:
    parts = []
    for log in sorted(directory.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(parts) or "(no log)"


@dataclass
class Daemon:
    """nginx, PgBouncer or Prometheus: its process, its port on 127.0.0.1, its own folder (the
    rendered files and its logs)."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def logs(self) -> str:
        return _logs(self.directory)


def running(
    name: str,
    command: Callable[[int, Path], Sequence[str]],
    ready: Callable[[int], bool],
    root: Path,
    owner: str | None = None,
) -> contextlib.AbstractContextManager[Daemon]:
    """Start `command(port, folder)` on a free port (`on_a_free_port`), in a new folder under
    `root` (handed to `owner` when running as root), until `ready(port)`; stop it on exit."""

    def start(port: int) -> Daemon:
        directory = root / f"{name}-{port}"
        directory.mkdir()
        if owner and os.geteuid() == 0:
            shutil.chown(directory, user=owner)
        with (directory / f"{name}-output.log").open("wb") as output:
            process = subprocess.Popen(  # noqa: S603 (Debian's programs, our arguments)
                command(port, directory),
                cwd=directory,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Daemon(process, port, directory)

    return on_a_free_port(name, start, lambda daemon: _wait_ready(name, daemon, ready), Daemon.logs)


def _wait_ready(name: str, daemon: Daemon, ready: Callable[[int], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready(daemon.port):
        if daemon.process.poll() is not None:
            code = daemon.process.returncode
            raise RuntimeError(f"{name} exited with {code}:\n{daemon.logs()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not ready within {READY_TIMEOUT} s:\n{daemon.logs()}")
        time.sleep(0.1)


def answers_ok(path: str) -> Callable[[int], bool]:
    """Whether a server on a port answers 200 at `path`."""

    def ready(port: int) -> bool:
        try:
            return httpx.get(f"http://{HOST}:{port}{path}", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def pgbouncer(
    postgres_url: str, credentials: Credentials, root: Path
) -> contextlib.AbstractContextManager[Daemon]:
    """PgBouncer from deploy/pgbouncer.ini and deploy/userlist.txt, pooling the database of
    `postgres_url` as `todo`. As root it runs as the `postgres` user (it refuses root)."""
    target = make_url(postgres_url)

    def command(port: int, directory: Path) -> list[str]:
        userlist = render(
            "userlist.txt",
            {"DB_USER": credentials.user, "DB_PASSWORD": credentials.password},
            directory,
        )
        userlist.chmod(0o600)
        config = render(
            "pgbouncer.ini",
            {
                "POSTGRES_HOST": target.host or HOST,
                "POSTGRES_PORT": str(target.port or 5432),
                "DATABASE": target.database or "postgres",
                "LISTEN_ADDR": HOST,
                "LISTEN_PORT": str(port),
                "RUN_DIR": str(directory),
                "LOG_DIR": str(directory),
                "AUTH_FILE": str(userlist),
            },
            directory,
        )
        if os.geteuid() == 0:
            shutil.chown(userlist, user=PGBOUNCER_USER)
            return [str(PGBOUNCER), "-u", PGBOUNCER_USER, str(config)]
        return [str(PGBOUNCER), str(config)]

    def ready(port: int) -> bool:
        try:
            connection = psycopg2.connect(pooled_dsn(port, credentials), connect_timeout=2)
        except psycopg2.Error:
            return False
        connection.close()
        return True

    return running("pgbouncer", command, ready, root, owner=PGBOUNCER_USER)


def pooled_dsn(port: int, credentials: Credentials) -> str:
    """The libpq DSN of the pooled database, as a client of PgBouncer on `port` gives it."""
    return (
        f"host={HOST} port={port} dbname={POOLED_DATABASE} "
        f"user={credentials.user} password={credentials.password}"
    )


def nginx(instances: Sequence[Server], root: Path) -> contextlib.AbstractContextManager[Daemon]:
    """nginx from deploy/nginx.conf in front of `instances`, in the foreground."""

    def command(port: int, directory: Path) -> list[str]:
        if os.geteuid() == 0:  # its workers run as www-data: they must reach the temp folders
            directory.chmod(0o755)  # (the master, root, makes them and hands them over)
        config = render(
            "nginx.conf",
            {
                "RUN_DIR": str(directory),
                "LOG_DIR": str(directory),
                "TEMP_DIR": str(directory),
                "INSTANCE_1": f"{HOST}:{instances[0].port}",
                "INSTANCE_2": f"{HOST}:{instances[1].port}",
                "LISTEN": f"{HOST}:{port}",
            },
            directory,
        )
        return [str(NGINX), "-p", str(directory), "-c", str(config), "-g", "daemon off;"]

    return running("nginx", command, answers_ok("/api/health"), root)


def prometheus(
    instances: Sequence[Server], metrics_token: str, root: Path, scrape_interval: str = "1s"
) -> contextlib.AbstractContextManager[Daemon]:
    """Prometheus from deploy/prometheus.yml, scraping `instances` directly with the token."""

    def command(port: int, directory: Path) -> list[str]:
        token_file = directory / "metrics-token"
        token_file.write_text(metrics_token)
        token_file.chmod(0o600)
        config = render(
            "prometheus.yml",
            {
                "SCRAPE_INTERVAL": scrape_interval,
                "METRICS_TOKEN_FILE": str(token_file),
                "INSTANCE_1": f"{HOST}:{instances[0].port}",
                "INSTANCE_2": f"{HOST}:{instances[1].port}",
            },
            directory,
        )
        return [
            str(PROMETHEUS), f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={HOST}:{port}",
        ]  # fmt: skip

    return running("prometheus", command, answers_ok("/-/ready"), root)


def admin_execute(server_url: str, statement: str) -> None:
    """One statement outside a transaction, on a connection of its own."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@dataclass
class Topology:
    """nginx in front of two instances; each instance's database is PgBouncer's, its listener's
    PostgreSQL itself (`direct_url`)."""

    nginx: Daemon
    instances: tuple[Server, Server]
    pgbouncer: Daemon
    credentials: Credentials
    direct_url: str
    metrics_token: str
    root: Path

    @property
    def direct_libpq_url(self) -> str:
        """`direct_url` as libpq (psycopg2.connect) reads it."""
        url = make_url(self.direct_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def topology(direct_url: str, log_dir: Path, **settings: str) -> Iterator[Topology]:
    """The whole of docs/deployment.md on the (migrated) database of `direct_url`: PgBouncer,
    two instances of `WORKERS` workers behind it, each with its own empty metrics folder, and
    nginx in front. `settings` are the instances' own (the throttle store among them)."""
    root = Path(tempfile.mkdtemp(prefix="todo-topology-"))
    root.chmod(0o755)  # PgBouncer (as postgres) and nginx's workers (as www-data) reach in
    credentials = Credentials("postgres", secrets.token_urlsafe(16))
    metrics_token = secrets.token_urlsafe(32)
    try:
        with contextlib.ExitStack() as stack:
            bouncer = stack.enter_context(pgbouncer(direct_url, credentials, root))
            pooled = (
                f"postgresql://{credentials.user}:{credentials.password}"
                f"@{bouncer.address}/{POOLED_DATABASE}"
            )
            base = production_env(
                pooled,
                LISTENER_DATABASE_URL=direct_url,
                FORWARDED_ALLOW_IPS=HOST,  # nginx's address, as the instances see it
                METRICS_TOKEN=metrics_token,
                **settings,
            )  # one call: one JWT_SECRET for both instances
            instances = []
            for number in (1, 2):
                metrics_dir = root / f"instance-{number}-metrics"
                metrics_dir.mkdir()
                env = {**base, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
                server = uvicorn_server(
                    env, log_dir, workers=WORKERS, options=INSTANCE_OPTIONS, app=("app.main:app",)
                )
                instances.append(stack.enter_context(server))
            pair = (instances[0], instances[1])
            front = stack.enter_context(nginx(pair, root))
            yield Topology(front, pair, bouncer, credentials, direct_url, metrics_token, root)
    finally:
        _keep_logs(root, log_dir / root.name)
        shutil.rmtree(root, ignore_errors=True)


def _keep_logs(root: Path, kept: Path) -> None:
    """Copy the daemons' logs and rendered files out of `root` before it goes (the instances'
    logs are in the log folder already, which pytest keeps for a few runs)."""
    for path in root.glob("*/*"):
        if path.suffix in {".log", ".conf", ".ini", ".yml"}:
            (kept / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, kept / path.parent.name / path.name)
