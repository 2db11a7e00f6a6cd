"""The object types of the GraphQL schema: the data each holds, its construction from the
services' models, and the field resolvers of its lazy fields.

A type holds plain data. A field worth computing only when asked for (a cursor, a total count, an
event's task) is a field resolver: from the type's data and, when it needs the database or the
viewer, from the request's context (`FieldContext`).

A class whose GraphQL name is also a model's (`User`, `Task`, `TaskStats`) is `...Type` in Python,
so the two never need aliases where they meet; the schema names are the contract's.
"""

import uuid
from datetime import datetime
from typing import Protocol, Self

import strawberry
from strawberry.types import Info

from app.database import SharedTrips
from app.events import TaskEvent
from app.security import TokenClaims
from app.services.accounts import LoginResult
from app.services.listing import TaskPage
from app.services.listing_filters import count
from app.services.task_table import TaskRow
from app.services.tasks import find_task_in_any_state
from models.session import SessionPublic
from models.task import TagCount, TaskStats
from models.user import Tokens, User
from schema.enums import Priority, TaskEventKind


class FieldContext(Protocol):
    """What the field resolvers here read from the request's context: the database and the
    viewer. `resolvers.context.Context` is it (this package imports nothing of `resolvers`)."""

    db: SharedTrips

    async def user(self) -> User: ...

    async def viewer(self) -> TokenClaims: ...


FieldInfo = Info[FieldContext, None]


@strawberry.type(name="User", description="An account. The email is stored in lower case.")
class UserType:
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime

    @classmethod
    def from_model(cls, user: User) -> Self:
        return cls(id=user.id, email=user.email, name=user.name, created_at=user.created_at)

    @classmethod
    def owner_of(cls, page: TaskPage) -> Self:
        """The owner of `page`'s tasks (the viewer), of the fields its query reads: those read
        with the page (`TaskPage.owner`) and the id. Made as `TaskType.from_row` makes a task
        of a page: nothing reads the fields the query did not ask for."""
        made = cls.__new__(cls)
        made.__dict__.update(page.owner, id=page.user_id)
        return made


@strawberry.type(name="Session", description="One login: where the account is signed in.")
class SessionType:
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime = strawberry.field(
        description="When the session last got tokens: its login or its latest refresh."
    )
    user_agent: str | None
    current: bool = strawberry.field(description="True for the session of this request's token.")

    @classmethod
    def from_model(cls, session: SessionPublic) -> Self:
        return cls(**session.model_dump())


@strawberry.type(name="Task", description="A task; only its owner can see it.")
class TaskType:
    id: int
    title: str
    description: str
    completed: bool
    priority: Priority
    due_at: datetime | None
    tags: list[str] = strawberry.field(description="Sorted case-insensitively.")
    version: int = strawberry.field(description="1 when created, one more on every change.")
    created_at: datetime
    updated_at: datetime
    owner: UserType = strawberry.field(
        description="The task's owner: the viewer, the only one who can see it (no query)."
    )
    deleted_at: datetime | None = strawberry.field(
        default=None, description="When it went to the trash; null outside the trash."
    )

    @classmethod
    def from_row(cls, task: TaskRow, owner: UserType) -> Self:
        """A task row as the services answer it, of `owner`'s (the viewer, built once a page).

        Its values are set as they are, without the dataclass `__init__`: 0.25 us a task against
        0.45, 50 times a page. A whole row holds every other field of the type (`TASK_FIELDS`,
        and `deleted_at` from the trash; outside it, the class's default, None), which
        `tests/test_schema_types.py` holds. A page's rows hold only the fields its query reads
        (`resolvers.selections`): its tasks lack the others, which nothing asks of them."""
        made = cls.__new__(cls)
        made.__dict__.update(task, owner=owner)
        return made


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
    user: UserType
    tokens: TokenPair

    @classmethod
    def from_result(cls, result: LoginResult) -> Self:
        return cls(
            user=UserType.from_model(result.user), tokens=TokenPair.from_model(result.tokens)
        )


@strawberry.type(name="TagCount")
class TagCountType:
    name: str
    task_count: int

    @classmethod
    def from_model(cls, tag: TagCount) -> Self:
        return cls(name=tag.name, task_count=tag.task_count)


@strawberry.type(name="TaskStats")
class TaskStatsType:
    total: int
    completed: int
    pending: int

    @classmethod
    def from_model(cls, stats: TaskStats) -> Self:
        return cls(total=stats.total, completed=stats.completed, pending=stats.pending)


def _signed_cursor(root: "TaskEdge") -> str:
    # Signed on demand (a page asked for its nodes signs nothing) and synchronously: an HMAC
    # costs less than an await would.
    return root.page.cursor(root.index)


@strawberry.type
class TaskEdge:
    cursor: str = strawberry.field(resolver=_signed_cursor)  # a field before `node` in the SDL
    node: TaskType
    page: strawberry.Private[TaskPage]
    index: strawberry.Private[int]  # the node's place in `page`


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="True when this page was asked for with `after` (there are tasks before it)."
    )
    start_cursor: str | None
    end_cursor: str | None


def _edges(root: "TaskConnection") -> list[TaskEdge]:
    # Made when asked for: a page asked for its nodes makes no edges.
    return [
        TaskEdge(node=node, page=root.page, index=index) for index, node in enumerate(root.nodes)
    ]


def _page_info(root: "TaskConnection") -> PageInfo:
    # Made when asked for: its two cursors are signed (an HMAC each).
    page, last = root.page, len(root.nodes) - 1
    return PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=root.after_cursor,
        start_cursor=page.cursor(0) if root.nodes else None,
        end_cursor=page.cursor(last) if root.nodes else None,
    )


@strawberry.type(description="A page of tasks in the listing order.")
class TaskConnection:
    edges: list[TaskEdge] = strawberry.field(resolver=_edges)
    nodes: list[TaskType]
    page_info: PageInfo = strawberry.field(resolver=_page_info)
    page: strawberry.Private[TaskPage]
    after_cursor: strawberry.Private[bool]  # asked for `after` a cursor: tasks come before it

    @strawberry.field(description="Tasks matching the filter, on all pages.")
    async def total_count(self, info: FieldInfo) -> int:
        return await info.context.db.run(count, self.page.where)  # counted only when asked for

    @classmethod
    def of(cls, page: TaskPage, *, after: str | None) -> Self:
        """`page`, asked for `after` a cursor or from the top."""
        owner = UserType.owner_of(page)
        nodes = [TaskType.from_row(found, owner) for found in page.tasks]
        return cls(nodes=nodes, page=page, after_cursor=after is not None)


@strawberry.type(name="TaskEvent", description="A committed change to one of your tasks.")
class TaskEventType:
    kind: TaskEventKind
    task_id: int
    version: int = strawberry.field(description="The task's version after the change.")
    at: datetime

    @strawberry.field(
        description="The task, read when asked for (so as it is then; deletedAt set while in the "
        "trash); null for PURGED and once it is gone."
    )
    async def task(self, info: FieldInfo) -> TaskType | None:
        if self.kind is TaskEventKind.PURGED:
            return None
        viewer, owner = await info.context.viewer(), await info.context.user()
        found = await info.context.db.run(find_task_in_any_state, viewer, task_id=self.task_id)
        return TaskType.from_row(found, UserType.from_model(owner)) if found else None

    @classmethod
    def of(cls, event: TaskEvent) -> Self:
        return cls(kind=event.kind, task_id=event.task_id, version=event.version, at=event.at)
