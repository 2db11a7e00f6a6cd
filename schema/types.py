"""The object types of the GraphQL schema, and their construction from the service's models."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Self

import strawberry
from strawberry.types import Info

from app.errors import NotFound
from app.services.tasks import TaskRow
from models.task import TaskStats as TaskStatsModel
from models.user import Tokens
from models.user import User as UserModel
from resolvers.context import Context


@strawberry.type(description="An account. The email is stored in lower case.")
class User:
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime

    @classmethod
    def from_model(cls, user: UserModel) -> Self:
        return cls(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


@strawberry.type(description="A task; only its owner can see it.")
class Task:
    id: int
    title: str
    description: str
    completed: bool
    created_at: datetime
    updated_at: datetime
    user_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The task's owner (loaded in one query per request).")
    def owner(self, info: Info[Context, None]) -> User:
        """The viewer, who owns every task it can see, is answered at once: no query, and no
        awaitable per row (on a page of 500 those cost more than the rest of the row). Any other
        owner goes through the DataLoader; Strawberry awaits what this returns."""
        viewer = info.context.viewer
        if viewer is not None and viewer.id == self.user_id:
            return User.from_model(viewer)
        return _load_owner(info.context, self.user_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, task: TaskRow, user_id: uuid.UUID) -> Self:
        """A task row of `user_id`'s, as the services answer it."""
        return cls(**task, user_id=user_id)


async def _load_owner(context: Context, user_id: uuid.UUID) -> User:
    user = await context.loaders.user.load(user_id)
    if user is None:  # the owner was deleted while this request ran
        raise NotFound("Owner not found")
    return User.from_model(user)


@strawberry.type
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int = strawberry.field(description="Access token lifetime in seconds.")

    @classmethod
    def from_model(cls, tokens: Tokens) -> Self:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            token_type=tokens.token_type,
            expires_in=tokens.expires_in,
        )


@strawberry.type
class AuthPayload:
    user: User
    tokens: TokenPair


@strawberry.type
class TaskStats:
    total: int
    completed: int
    pending: int

    @classmethod
    def from_model(cls, stats: TaskStatsModel) -> Self:
        return cls(total=stats.total, completed=stats.completed, pending=stats.pending)


@strawberry.type
class TaskEdge:
    cursor: str
    node: Task


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="True when this page was asked for with `after` (there are tasks before it)."
    )
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A page of tasks in the listing order.")
class TaskConnection:
    edges: list[TaskEdge]
    nodes: list[Task]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Tasks matching the filter, on all pages.")
    async def total_count(self) -> int:
        return await self.count()  # counted only when asked for
