"""The DataLoaders batch: any number of loads in one tick cost one query."""

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from resolvers.loaders import Loaders
from tests.support import register


def test_user_loader_loads_many_users_in_one_query(client: TestClient, app: FastAPI) -> None:
    accounts = [register(client, f"{name}@example.com") for name in ("a", "b", "c")]
    ids = [
        uuid.UUID(client.get("/api/auth/me", headers=account.headers).json()["id"])
        for account in accounts
    ]
    db = app.state.runtime.db
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    async def load_all() -> list[Any]:
        loaders = Loaders(db)
        return await asyncio.gather(*(loaders.user.load(user_id) for user_id in [*ids, ids[0]]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        users = asyncio.run(load_all())
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [user.id for user in users] == [*ids, ids[0]]
    assert len(statements) == 1


def test_user_loader_answers_none_for_an_unknown_id(app: FastAPI) -> None:
    async def load() -> Any:
        return await Loaders(app.state.runtime.db).user.load(uuid.uuid4())

    assert asyncio.run(load()) is None


def test_an_owner_other_than_the_viewer_comes_through_the_loader(
    client: TestClient, app: FastAPI
) -> None:
    """Every task a viewer can see today is its own, so `owner` answers the viewer directly;
    any other owner is loaded (and batched) by the DataLoader."""
    from app.throttle import Client
    from resolvers.context import Context
    from schema.types import Task

    alice, bob = (register(client, f"{name}@example.com") for name in ("alice", "bob"))
    bob_id = uuid.UUID(client.get("/api/auth/me", headers=bob.headers).json()["id"])
    runtime = app.state.runtime
    context = Context(
        runtime, f"Bearer {alice.access_token}", Client.arriving(None, runtime.settings)
    )
    task = Task(
        id=1,
        title="t",
        description="",
        completed=False,
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
        user_id=bob_id,
    )

    async def owners() -> tuple[Any, Any]:
        viewer = await context.user()
        info = SimpleNamespace(context=context)
        own = Task.owner(replace(task, user_id=viewer.id), info)
        other = await Task.owner(task, info)
        return own, other

    own, other = asyncio.run(owners())
    assert own.email == "alice@example.com"
    assert other.id == bob_id
