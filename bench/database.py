"""The benchmark's own PostgreSQL database: created fresh, migrated, bulk-seeded, then dropped.

Only what would be slow through the API goes straight into the tables: the 10,000 tasks of the
deep-paging user and a crowd of other users' tasks (so the owner filter has rows to skip).
"""

import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import psycopg2  # type: ignore[import-untyped]
import psycopg2.extras  # type: ignore[import-untyped]
from psycopg2 import sql

from app.services.tasks import encode_cursor
from models.task import Task

OTHER_USERS = 40
TASKS_PER_OTHER_USER = 250


def database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def _administer(admin_url: str, statement: sql.Composable) -> None:
    """One statement outside a transaction (CREATE and DROP DATABASE refuse to run inside one)."""
    connection = psycopg2.connect(admin_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def create_database(admin_url: str, name: str) -> None:
    """Drop `name` if a previous run left it behind, and create it empty."""
    drop_database(admin_url, name)
    _administer(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    _administer(admin_url, statement)


def migrate(root: Path, env: Mapping[str, str]) -> None:
    """`alembic upgrade head` with the server's DATABASE_URL, as `make migrate` runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=root,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"alembic upgrade head failed:\n{result.stdout}\n{result.stderr}")


def _timestamps(count: int, end: datetime) -> list[datetime]:
    """`count` distinct times, one second apart, the newest at `end`."""
    return [end - timedelta(seconds=count - i) for i in range(count)]


def bulk_tasks(url: str, user_id: uuid.UUID, count: int, *, completed_every: int = 3) -> None:
    """`count` tasks for `user_id`, every `completed_every`-th one completed."""
    now = datetime.now(UTC)
    rows = [
        (str(user_id), f"Bulk task {i + 1}", "", (i % completed_every) == 0, at, at)
        for i, at in enumerate(_timestamps(count, now))
    ]
    _insert_tasks(url, rows)


def bulk_other_users(url: str) -> None:
    """Users who only add rows the owner filter must skip; they never log in."""
    password_hash = bcrypt.hashpw(b"never used", bcrypt.gensalt(4)).decode()
    now = datetime.now(UTC)
    users: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    for n in range(OTHER_USERS):
        user_id = str(uuid.uuid4())
        users.append((user_id, f"crowd{n}@bench.example", f"Crowd {n}", password_hash, now, now))
        for i, at in enumerate(_timestamps(TASKS_PER_OTHER_USER, now)):
            tasks.append((user_id, f"Crowd task {i}", "", i % 2 == 0, at, at))
    _insert(url, "users (id, email, name, password_hash, created_at, updated_at)", users)
    _insert_tasks(url, tasks)


def _insert_tasks(url: str, rows: list[tuple[Any, ...]]) -> None:
    _insert(url, "tasks (user_id, title, description, completed, created_at, updated_at)", rows)


def _insert(url: str, table_and_columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Bulk rows in one transaction, 1,000 to a statement."""
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            psycopg2.extras.execute_values(
                cursor, f"INSERT INTO {table_and_columns} VALUES %s", rows, page_size=1000
            )
    finally:
        connection.close()


def analyze(url: str) -> None:
    """Fresh planner statistics after the bulk load (autovacuum would get there within a minute)."""
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    finally:
        connection.close()


@dataclass(frozen=True)
class DeepCursor:
    cursor: str
    position: int  # 1-based place in the listing of the task the cursor points at
    next_id: int  # the task just after it: the first of the page after the cursor


def cursor_before(url: str, user_id: uuid.UUID, position: int, key: str) -> DeepCursor:
    """The cursor of the task at 1-based `position` in the listing order, made the way the service
    makes it (`encode_cursor` with the server's key): the page after it starts at position + 1."""
    connection = psycopg2.connect(url, options="-c timezone=UTC")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, completed, created_at FROM tasks WHERE user_id = %s"
                " ORDER BY completed ASC, created_at DESC, id DESC OFFSET %s LIMIT 2",
                (str(user_id), position - 1),
            )
            (task_id, completed, created_at), (next_id, _, _) = cursor.fetchall()
    finally:
        connection.close()
    task = Task(id=task_id, user_id=user_id, title="-", completed=completed, created_at=created_at)
    return DeepCursor(
        cursor=encode_cursor(task, user_id, key), position=position, next_id=int(next_id)
    )
