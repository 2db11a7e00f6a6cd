"""Stopping the app closes every connection it opened, even one a unit of work still holds."""

import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.pool import NullPool

from app.factory import create_app
from app.services import retention, trash
from app.settings import Settings
from app.statements import Runner
from tests.conftest import empty_postgres_database, migrate

ACTIVITY = sa.table("pg_stat_activity", sa.column("datname"), sa.column("backend_type"))


def _connections_to(database_url: str) -> int:
    database = sa.make_url(database_url).database
    engine = sa.create_engine(database_url.rsplit("/", 1)[0] + "/postgres", poolclass=NullPool)
    query = sa.select(sa.func.count()).where(
        ACTIVITY.c.datname == database, ACTIVITY.c.backend_type == "client backend"
    )
    with engine.connect() as connection:
        found = int(connection.execute(query).scalar_one())
    engine.dispose()
    return found


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own: no other test's connection is counted."""
    if not database_url.startswith("postgresql"):
        pytest.skip("counts PostgreSQL's connections")
    with empty_postgres_database() as url:
        migrate(url)
        yield url


def test_stopping_during_a_unit_of_work_leaves_no_connection_open(
    own_database: str, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trash purge runs as the app starts; here it is still running when the app stops, so
    its connection goes back to the pool after the shutdown began."""
    purge = trash.purge_expired

    def slow_purge(runner: Runner, /, **values: object) -> int:
        time.sleep(0.3)
        return purge(runner, **values)  # type: ignore[arg-type]

    monkeypatch.setattr(retention, "purge_expired", slow_purge)
    for _ in range(3):
        with TestClient(create_app(make_settings(database_url=own_database))):
            pass

    assert _connections_to(own_database) == 0
