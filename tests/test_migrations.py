"""Alembic migrations build exactly the schema the models describe, and carry old rows over."""

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from app.factory import create_app
from app.security import encode_token, hash_password
from app.settings import Settings
from models import include_in_autogenerate
from models.utc import UTCDateTime
from tests.conftest import BACKENDS, alembic_config, empty_postgres_database, migrate
from tests.support import PASSWORD, Account, create_task, login, register


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


WAVE_ONE_TASKS = sa.table(
    "tasks",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.Uuid()),
    sa.column("title", sa.String()),
    sa.column("description", sa.String()),
    sa.column("completed", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
WAVE_ONE_TOKENS = sa.table(
    "refresh_tokens",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("family_id", sa.Uuid()),
    sa.column("expires_at", UTCDateTime()),
    sa.column("revoked_at", UTCDateTime()),
    sa.column("replaced_by", sa.Uuid()),
    sa.column("created_at", UTCDateTime()),
)


def _rows(url: str, table: sa.TableClause) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = [tuple(row) for row in connection.execute(sa.select(table).order_by(*table.c))]
    engine.dispose()
    return found


def _seed_before_organising(url: str) -> uuid.UUID:
    """A user, three tasks and a refresh token, written through the schema of revision 0003."""
    migrate(url, "0003")
    user_id, at = uuid.uuid4(), datetime(2026, 1, 1, tzinfo=UTC)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(WAVE_ONE_USERS).values(
                id=user_id, email="old@example.com", name="Old", created_at=at, updated_at=at,
                password_hash=hash_password(PASSWORD, 4),
            )
        )  # fmt: skip
        for index, title in enumerate(["Zebra", "apple", "Émile"]):
            connection.execute(
                sa.insert(WAVE_ONE_TASKS).values(
                    user_id=user_id, title=title, description=f"d{index}", completed=index == 1,
                    created_at=at + timedelta(hours=index), updated_at=at + timedelta(hours=index),
                )
            )  # fmt: skip
        connection.execute(
            sa.insert(WAVE_ONE_TOKENS).values(
                id=uuid.uuid4(), user_id=user_id, family_id=uuid.uuid4(), created_at=at,
                expires_at=at + timedelta(days=7), revoked_at=None, replaced_by=None,
            )
        )  # fmt: skip
    engine.dispose()
    return user_id


def test_upgrading_keeps_every_row_of_before_and_both_doors_read_it(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    _seed_before_organising(unmigrated_url)
    before = {
        table.name: _rows(unmigrated_url, table)
        for table in (WAVE_ONE_USERS, WAVE_ONE_TASKS, WAVE_ONE_TOKENS)
    }

    migrate(unmigrated_url)

    after = {
        table.name: _rows(unmigrated_url, table)
        for table in (WAVE_ONE_USERS, WAVE_ONE_TASKS, WAVE_ONE_TOKENS)
    }
    assert after == before
    with TestClient(create_app(make_settings(database_url=unmigrated_url))) as client:
        login = client.post(
            "/api/auth/login", json={"email": "old@example.com", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        tasks = client.get("/api/tasks", params={"sort": "title"}, headers=headers).json()
        # case-folded, then by code point: the same on both databases (é after z)
        assert [task["title"] for task in tasks] == ["apple", "Zebra", "Émile"]
        assert {(task["priority"], task["due_at"], task["version"]) for task in tasks} == {
            ("none", None, 1)
        }
        assert all(task["tags"] == [] for task in tasks)
        query = "{ tasks { nodes { title priority tags version deletedAt } } }"
        nodes = client.post("/graphql", json={"query": query}, headers=headers).json()["data"][
            "tasks"
        ]["nodes"]
        assert [node["title"] for node in nodes] == ["Émile", "Zebra", "apple"]
        assert all(
            (node["priority"], node["version"], node["deletedAt"]) == ("NONE", 1, None)
            for node in nodes
        )
        changed = client.patch(
            f"/api/tasks/{tasks[0]['id']}", json={"tags": ["new"]}, headers=headers
        )
        assert (changed.json()["tags"], changed.json()["version"]) == (["new"], 2)


def test_downgrading_organising_keeps_live_tasks_and_drops_the_trash(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    _seed_before_organising(unmigrated_url)
    migrate(unmigrated_url)
    with TestClient(create_app(make_settings(database_url=unmigrated_url))) as client:
        login = client.post(
            "/api/auth/login", json={"email": "old@example.com", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        tasks = client.get("/api/tasks", params={"sort": "title"}, headers=headers).json()
        client.patch(
            f"/api/tasks/{tasks[0]['id']}",
            json={"tags": ["t"], "priority": "high"},
            headers=headers,
        )
        client.delete(f"/api/tasks/{tasks[1]['id']}", headers=headers)

    command.downgrade(alembic_config(unmigrated_url), "0003")

    titles = sorted(str(row[2]) for row in _rows(unmigrated_url, WAVE_ONE_TASKS))
    assert titles == ["apple", "Émile"]  # "Zebra" was in the trash
    engine = create_engine(unmigrated_url)
    assert {"tags", "task_tags", "idempotency_keys"}.isdisjoint(inspect(engine).get_table_names())
    assert "priority" not in {column["name"] for column in inspect(engine).get_columns("tasks")}
    engine.dispose()
    migrate(unmigrated_url)  # and up again


def _access_token(settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID) -> str:
    token, _ = encode_token(
        user_id=user_id,
        type="access",
        lifetime=timedelta(minutes=5),
        key=settings.signing_key,
        session_id=session_id,
    )
    return token


def test_upgrading_gives_each_chain_issued_before_a_session(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    """Chains written through revision 0004 become sessions: one of two tokens, the newer
    unrevoked, is live, started at its first token and last used at its newest; one whose
    every token is revoked has ended."""
    user_id = _seed_before_organising(unmigrated_url)
    migrate(unmigrated_url, "0004")
    first_at, family_id, live_id = datetime(2026, 11, 1, tzinfo=UTC), uuid.uuid4(), uuid.uuid4()
    last_at, expires_at = first_at + timedelta(days=3), datetime.now(UTC) + timedelta(days=5)
    ended_id = uuid.uuid4()
    engine = create_engine(unmigrated_url)
    with engine.begin() as connection:
        chain = {"user_id": user_id, "family_id": family_id, "expires_at": expires_at}
        connection.execute(
            sa.insert(WAVE_ONE_TOKENS),
            [
                {**chain, "id": family_id, "created_at": first_at, "revoked_at": last_at,
                 "replaced_by": live_id},
                {**chain, "id": live_id, "created_at": last_at, "revoked_at": None,
                 "replaced_by": None},
                {**chain, "id": ended_id, "family_id": ended_id, "created_at": first_at,
                 "revoked_at": last_at, "replaced_by": None},
            ],
        )  # fmt: skip
    engine.dispose()

    migrate(unmigrated_url)

    settings = make_settings(database_url=unmigrated_url)
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {_access_token(settings, user_id, family_id)}"}
        listed = client.get("/api/auth/sessions", headers=headers).json()
        ended = {"Authorization": f"Bearer {_access_token(settings, user_id, ended_id)}"}
        assert client.get("/api/auth/sessions", headers=ended).status_code == 401
    assert [
        (
            s["id"],
            datetime.fromisoformat(s["created_at"]),
            datetime.fromisoformat(s["last_used_at"]),
        )
        for s in listed
    ] == [(str(family_id), first_at, last_at)]  # the seed's own chain expired: not listed


def test_downgrading_sessions_keeps_the_ended_ones_ended(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    """Before 0005 a session ended when no token of its chain was unrevoked: the downgrade
    revokes the tokens of the sessions that ended since, and leaves the others."""
    _seed_before_organising(unmigrated_url)
    migrate(unmigrated_url)
    before = _rows(unmigrated_url, WAVE_ONE_TOKENS)
    with TestClient(create_app(make_settings(database_url=unmigrated_url))) as client:
        body = {"email": "old@example.com", "password": PASSWORD}
        tokens = client.post("/api/auth/login", json=body).json()
        logout = {"refresh_token": tokens["refresh_token"]}
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.post("/api/auth/logout", json=logout, headers=headers).status_code == 200

    command.downgrade(alembic_config(unmigrated_url), "0004")

    engine = create_engine(unmigrated_url)
    assert "sessions" not in inspect(engine).get_table_names()
    engine.dispose()
    after = _rows(unmigrated_url, WAVE_ONE_TOKENS)
    (logged_out,) = [row for row in after if row not in before]
    assert logged_out[4] is not None  # revoked_at
    assert [row for row in after if row in before] == before
    migrate(unmigrated_url)  # and up again


PERSISTED_QUERY = "{ me { id } }"


def _purge(client: TestClient, account: Account, task_id: int) -> None:
    assert client.delete(f"/api/tasks/{task_id}", headers=account.headers).status_code == 200
    assert client.delete(f"/api/trash/{task_id}", headers=account.headers).status_code == 200


def _seed_before_never_reusing_ids(url: str, settings: Settings) -> None:
    """Revision 0006 with: two users, with sessions and refresh tokens (one chain refreshed, one
    logged out); tagged tasks, one of them purged (a gap among the ids), one in the trash; an
    idempotency key and a persisted query. Made through the API (which needs the latest
    revision), then downgraded."""
    migrate(url)
    with TestClient(create_app(settings)) as client:
        alice, bob = register(client, "alice@example.com"), register(client, "bob@example.com")
        login(client, "alice@example.com")
        client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
        logout = {"refresh_token": bob.refresh_token}
        assert client.post("/api/auth/logout", json=logout, headers=bob.headers).status_code == 200
        bob = login(client, "bob@example.com")
        create_task(client, alice, "first", tags=["home", "Work"], priority="high")
        gap = create_task(client, alice, "purged", tags=["home"])["id"]
        trashed = create_task(client, alice, "trashed", tags=["work"])["id"]
        headers = {**alice.headers, "Idempotency-Key": "key-1"}
        assert client.post("/api/tasks", json={"title": "once"}, headers=headers).status_code == 201
        create_task(client, bob, "bob's", tags=["home"])
        create_task(client, alice, "last", description="the largest id")
        _purge(client, alice, gap)
        assert client.delete(f"/api/tasks/{trashed}", headers=alice.headers).status_code == 200
        sha256 = hashlib.sha256(PERSISTED_QUERY.encode()).hexdigest()
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256}}
        body = {"query": PERSISTED_QUERY, "extensions": extensions}
        assert client.post("/graphql", json=body, headers=alice.headers).status_code == 200
    command.downgrade(alembic_config(url), "0006")


def _every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the database has, by primary key."""
    engine = create_engine(url)
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        found = {
            name: [
                tuple(row)
                for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for name, table in SQLModel.metadata.tables.items()
            if name in present
        }
    engine.dispose()
    return found


SQLITE_MASTER = sa.table("sqlite_master", sa.column("name", sa.String()), sa.column("sql"))


def _described(index: Any) -> dict[str, object]:
    """A reflected index with its WHERE as text (SQLite reflects it as a clause object)."""
    options = {key: str(value) for key, value in index.get("dialect_options", {}).items()}
    return {**index, "dialect_options": options}


def _indexes_and_foreign_keys(url: str) -> dict[str, object]:
    """Each table's indexes and foreign keys as the database reports them; on SQLite, each
    index's own definition too (the inspector leaves out DESC there)."""
    engine = create_engine(url)
    inspector = inspect(engine)
    found: dict[str, object] = {
        name: (
            sorted(repr(_described(index)) for index in inspector.get_indexes(name)),
            sorted(repr(key) for key in inspector.get_foreign_keys(name)),
            inspector.get_pk_constraint(name)["constrained_columns"],
        )
        for name in SQLModel.metadata.tables
        if name in inspector.get_table_names()
    }
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            found["sqlite_master"] = sorted(
                connection.execute(
                    sa.select(SQLITE_MASTER.c.name, SQLITE_MASTER.c.sql).where(
                        SQLITE_MASTER.c.name.like("ix_%")
                    )
                )
            )
    engine.dispose()
    return found


def test_upgrading_to_0007_keeps_every_row_and_id_of_every_table(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    _seed_before_never_reusing_ids(unmigrated_url, make_settings(database_url=unmigrated_url))
    before = _every_row(unmigrated_url)
    assert all(before.values())  # every table has rows to keep

    migrate(unmigrated_url, "0007")

    assert _every_row(unmigrated_url) == before


def test_upgrading_to_0007_keeps_every_index_and_foreign_key(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    _seed_before_never_reusing_ids(unmigrated_url, make_settings(database_url=unmigrated_url))
    before = _indexes_and_foreign_keys(unmigrated_url)

    migrate(unmigrated_url, "0007")

    assert _indexes_and_foreign_keys(unmigrated_url) == before


def test_after_upgrading_to_0007_a_purged_largest_id_is_not_given_to_the_next_task(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=unmigrated_url)
    _seed_before_never_reusing_ids(unmigrated_url, settings)
    earlier = [row[0] for row in _every_row(unmigrated_url)["tasks"]]

    migrate(unmigrated_url)  # 0007, and what the API needs

    with TestClient(create_app(settings)) as client:
        alice, bob = login(client, "alice@example.com"), login(client, "bob@example.com")
        _purge(client, alice, max(earlier))
        assert create_task(client, bob, "new")["id"] > max(earlier)


def test_upgrading_to_0007_does_not_give_out_again_an_id_an_idempotency_key_still_answers(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    """A task purged before the upgrade, the newest of all: its id is gone from the table, but
    a replay of the key that created it still answers it."""
    settings = make_settings(database_url=unmigrated_url)
    migrate(unmigrated_url)  # what the API needs; then back to before 0007
    with TestClient(create_app(settings)) as client:
        alice, bob = register(client, "alice@example.com"), register(client, "bob@example.com")
        headers = {**alice.headers, "Idempotency-Key": "key-1"}
        first = client.post("/api/tasks", json={"title": "once"}, headers=headers).json()
        _purge(client, alice, first["id"])
    command.downgrade(alembic_config(unmigrated_url), "0006")

    migrate(unmigrated_url)  # 0007, and what the API needs

    with TestClient(create_app(settings)) as client:
        bobs = create_task(client, bob, "bob's")
        replay = client.post("/api/tasks", json={"title": "once"}, headers=headers)
    assert replay.json() == first
    assert bobs["id"] != first["id"]


def test_downgrading_0007_and_upgrading_again_keep_every_row(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    _seed_before_never_reusing_ids(unmigrated_url, make_settings(database_url=unmigrated_url))
    before = _every_row(unmigrated_url)
    migrate(unmigrated_url, "0007")

    command.downgrade(alembic_config(unmigrated_url), "0006")
    assert _every_row(unmigrated_url) == before
    migrate(unmigrated_url, "0007")
    assert _every_row(unmigrated_url) == before


def test_upgrading_to_0008_keeps_every_row_and_adds_empty_identities(
    unmigrated_url: str, make_settings: Callable[..., Settings]
) -> None:
    _seed_before_never_reusing_ids(unmigrated_url, make_settings(database_url=unmigrated_url))
    migrate(unmigrated_url, "0007")
    before = _every_row(unmigrated_url)

    migrate(unmigrated_url, "0008")

    after = _every_row(unmigrated_url)
    assert after == {**before, "identities": [], "deleted_identities": []}


def _seed_a_better_auth_account(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """At head: an account made by a Better Auth sign-in (no password, an identity, a task),
    and a remembered deletion of another identity."""
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    tables = SQLModel.metadata.tables
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            tables["users"]
            .insert()
            .values(
                id=user_id,
                email="ba@example.com",
                name="Ba",
                password_hash="!",
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            tables["identities"]
            .insert()
            .values(
                id=uuid.uuid4(),
                user_id=user_id,
                issuer="https://auth.example.com",
                subject="user-1",
                created_at=now,
            )
        )
        connection.execute(
            tables["deleted_identities"]
            .insert()
            .values(issuer="https://auth.example.com", subject="user-0", deleted_at=now)
        )
        connection.execute(
            tables["tasks"]
            .insert()
            .values(
                user_id=user_id,
                title="kept",
                title_key="kept",
                description="",
                completed=False,
                priority="none",
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    engine.dispose()
    return _every_row(url)


def test_downgrading_0008_keeps_accounts_without_a_password_and_their_tasks(
    unmigrated_url: str,
) -> None:
    migrate(unmigrated_url)
    seeded = _seed_a_better_auth_account(unmigrated_url)

    command.downgrade(alembic_config(unmigrated_url), "0007")

    assert "identities" not in inspect(create_engine(unmigrated_url)).get_table_names()
    kept = {name: rows for name, rows in seeded.items() if "identities" not in name}
    assert _every_row(unmigrated_url) == kept


def test_downgrading_0008_and_upgrading_again_leaves_the_schema_the_models_describe(
    unmigrated_url: str,
) -> None:
    migrate(unmigrated_url)
    _seed_a_better_auth_account(unmigrated_url)
    command.downgrade(alembic_config(unmigrated_url), "0007")

    migrate(unmigrated_url)

    engine = create_engine(unmigrated_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_in_autogenerate}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()
