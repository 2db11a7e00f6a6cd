"""The DataLoaders batch: any number of loads in one tick cost one query."""

import asyncio
import uuid
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
        loaders = Loaders(db.run)
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
        return await Loaders(app.state.runtime.db.run).user.load(uuid.uuid4())

    assert asyncio.run(load()) is None
