"""Alembic migrations build exactly the schema the models describe, and carry old rows over."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from app.main import create_app
from app.security import hash_password
from app.settings import Settings
from models import include_in_autogenerate
from models.utc import UTCDateTime
from tests.conftest import BACKENDS, empty_postgres_database, migrate
from tests.support import PASSWORD


@pytest.fixture
def migrated_url(database_url: str, tmp_path: Path) -> str:
    """PostgreSQL's test database is built by migration; for SQLite, migrate a new file."""
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'migrated.db'}"
        migrate(database_url)
    return database_url


def test_migrating_an_empty_database_matches_the_models(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_in_autogenerate}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_migration_creates_the_listing_index_in_listing_order(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    with engine.connect() as connection:
        indexes = {index["name"]: index for index in inspect(connection).get_indexes("tasks")}
    engine.dispose()
    listing = indexes["ix_tasks_listing"]
    assert listing["column_names"][:2] == ["user_id", "completed"]
    if "column_sorting" in listing:  # PostgreSQL reports the sort order
        assert listing["column_sorting"] == {"created_at": ("desc",), "id": ("desc",)}


@pytest.fixture(params=BACKENDS)
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, on each backend."""
    with ExitStack() as stack:
        if request.param == "postgresql":
            yield stack.enter_context(empty_postgres_database())
        else:
            yield f"sqlite:///{tmp_path / 'old.db'}"


WAVE_ONE_USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("name", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def _stored_emails(url: str) -> dict[str, str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(WAVE_ONE_USERS.c.name, WAVE_ONE_USERS.c.email))
        emails = {name: email for name, email in rows}
    engine.dispose()
    return emails


def test_upgrading_normalises_stored_emails_and_keeps_both_sides_of_a_collision(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    migrate(unmigrated_url, "0001")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    password_hash = hash_password(PASSWORD, 4)
    old_rows = {  # name: email as wave one stored it (trimmed and lower-cased only)
        "plain": "abc@example.com",
        "fullwidth twin": "abc@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",
        "punycode": "a@xn--bcher-kva.de",
        "fullwidth alone": "x@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.org",
    }
    engine = create_engine(unmigrated_url)
    with engine.begin() as connection:
        for age, (name, email) in enumerate(old_rows.items()):
            at = start + timedelta(days=age)
            connection.execute(
                sa.insert(WAVE_ONE_USERS).values(
                    id=uuid.uuid4(),
                    email=email,
                    name=name,
                    password_hash=password_hash,
                    created_at=at,
                    updated_at=at,
                )
            )
    engine.dispose()

    migrate(unmigrated_url)

    assert _stored_emails(unmigrated_url) == {
        "plain": "abc@example.com",
        "fullwidth twin": old_rows["fullwidth twin"],  # lost the collision: kept as it was
        "punycode": "a@b\u00fccher.de",
        "fullwidth alone": "x@example.org",
    }
    with TestClient(create_app(make_settings(database_url=unmigrated_url))) as client:
        for spelling in ("X@example.ORG", "x@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.org"):
            body = {"email": spelling, "password": PASSWORD}
            assert client.post("/api/auth/login", json=body).status_code == 200
