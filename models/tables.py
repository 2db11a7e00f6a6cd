"""The tables as SQLAlchemy Core sees them, for the services' statements: `table(Model)` (typed:
SQLModel leaves `__table__` untyped), and `upsert`, the INSERT that can say what to do on a
conflict, which SQLAlchemy spells once per dialect."""

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel


def table(model: type[SQLModel]) -> Table:
    return model.metadata.tables[str(model.__tablename__)]


def upsert(dialect: str, into: Table) -> postgresql.Insert | sqlite.Insert:
    """`INSERT INTO into` with `on_conflict_do_nothing` / `on_conflict_do_update`, for PostgreSQL
    or SQLite (the two databases this service runs on)."""
    return postgresql.insert(into) if dialect == "postgresql" else sqlite.insert(into)
