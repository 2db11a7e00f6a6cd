"""Alembic migrations build exactly the schema the models describe."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from app.database import include_in_autogenerate
from tests.conftest import migrate


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
