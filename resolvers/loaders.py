"""DataLoaders: one query per relation per request, however many rows ask for it."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, select
from strawberry.dataloader import DataLoader

from app.database import Database
from models.user import User

_USERS = User.metadata.tables[User.__tablename__]


def users_by_id(connection: Connection, /, *, ids: Sequence[uuid.UUID]) -> list[User | None]:
    rows = connection.execute(select(_USERS).where(_USERS.c.id.in_(ids)))
    found = {row.id: User.model_validate(row._mapping) for row in rows}
    return [found.get(user_id) for user_id in ids]


class Loaders:
    """The DataLoaders of one request (a DataLoader caches, so it must not outlive it)."""

    def __init__(self, db: Database) -> None:
        async def load_users(ids: list[uuid.UUID]) -> list[User | None]:
            return await db.read(users_by_id, ids=ids)

        self.user: DataLoader[uuid.UUID, User | None] = DataLoader(load_fn=load_users)
