"""DataLoaders: one query per relation per request, however many rows ask for it."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlmodel import Session, col, select
from strawberry.dataloader import DataLoader

from models.user import User

Runner = Callable[..., Awaitable[Any]]


def users_by_id(*, session: Session, ids: Sequence[uuid.UUID]) -> list[User | None]:
    found = {user.id: user for user in session.exec(select(User).where(col(User.id).in_(ids)))}
    return [found.get(user_id) for user_id in ids]


class Loaders:
    """The DataLoaders of one request (a DataLoader caches, so it must not outlive it)."""

    def __init__(self, run: Runner) -> None:
        async def load_users(ids: list[uuid.UUID]) -> list[User | None]:
            result: list[User | None] = await run(users_by_id, ids=ids)
            return result

        self.user: DataLoader[uuid.UUID, User | None] = DataLoader(load_fn=load_users)
