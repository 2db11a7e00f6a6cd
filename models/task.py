"""Tasks: the table and the task schemas of the API."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import StrictBool, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Column, Index, SmallInteger, String, Text, desc, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from models.text import (
    DESCRIPTION_MAX,
    FILTER_VALUES_MAX,
    TITLE_MAX,
    Description,
    SearchText,
    TagName,
    Tags,
    Title,
    title_key,
)
from models.utc import UTCDateTime, UTCInstant, utcnow

LISTING_INDEX = "ix_tasks_listing"
DUE_DESC_INDEX = "ix_tasks_due_desc"


class Priority(StrEnum):
    """In rank order: the table stores the rank, so ordering by it is ordering by priority."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


_PRIORITIES = tuple(Priority)
_RANKS = {priority: rank for rank, priority in enumerate(Priority)}


class PriorityRank(TypeDecorator[Priority]):
    """A `Priority` stored as its rank (0 for none .. 3 for high). The column is never null, so
    the conversions are bare lookups: they run on every task read."""

    impl = SmallInteger()
    cache_ok = True

    def process_bind_param(self, value: Priority | str | None, dialect: Any) -> int | None:
        return None if value is None else _RANKS[Priority(value)]

    def result_processor(self, dialect: Any, coltype: object) -> Any:
        return _PRIORITIES.__getitem__


class TagList(TypeDecorator[list[str]]):
    """A task's tag names, as JSON text: read with `orjson.loads` alone (a driver's own JSON
    columns call a Python function per value)."""

    impl = Text()
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    def result_processor(self, dialect: Any, coltype: object) -> Any:
        return orjson.loads


# Sort keys that compare the same on both databases: PostgreSQL compares them byte by byte ("C"),
# as SQLite always does, so `title` orders alike on both.
SortKey = String().with_variant(String(collation="C"), "postgresql")
LIVE = text("deleted_at IS NULL")
TRASHED = text("deleted_at IS NOT NULL")


class TaskBase(SQLModel):
    """The fields of a task that its owner sees: the one list the table, the REST answers and the
    columns the services read all derive from (the GraphQL type is checked against it)."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    completed: bool = False
    priority: Priority = Field(
        default=Priority.NONE,
        sa_type=PriorityRank,
        nullable=False,
        sa_column_kwargs={"server_default": "0"},
    )
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tags: list[str] = Field(
        default_factory=list,
        sa_type=TagList,
        nullable=False,
        sa_column_kwargs={"server_default": "[]"},
        description="Sorted case-insensitively.",
    )
    version: int = Field(
        default=1,
        sa_column_kwargs={"server_default": "1"},
        description="1 when created, one more on every change.",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _title_key(context: Any) -> str:
    """`title_key` of a row inserted without one: its title case-folded, as the services set it."""
    return title_key(str(context.get_current_parameters()["title"]))


def _listing_index(name: str, *columns: Any) -> Index:
    """An index of the user's live tasks (the trash is listed apart), for one listing order."""
    return Index(name, "user_id", *columns, postgresql_where=LIVE, sqlite_where=LIVE)


class Task(TaskBase, table=True):
    """A task row. `tags` holds the names of its tags as answered (the `task_tags` rows are what
    filters and counts use): a page of tasks is read with no join. `title_key` is the title
    case-folded, for the `title` order."""

    __tablename__ = "tasks"
    __table_args__ = (
        # Serves the default listing and keyset paging: owner, incomplete first, newest first.
        Index(LISTING_INDEX, "user_id", "completed", desc("created_at"), desc("id")),
        _listing_index("ix_tasks_created", "created_at", "id"),
        _listing_index("ix_tasks_updated", "updated_at", "id"),
        _listing_index("ix_tasks_due", "due_at", "id"),  # ascending, missing due dates last
        # PostgreSQL only: a backward scan of ix_tasks_due would put missing due dates first.
        # (SQLite sorts that order itself; it has no NULLS LAST in an index.)
        _listing_index(DUE_DESC_INDEX, desc("due_at").nulls_last(), desc("id")).ddl_if(
            dialect="postgresql"
        ),
        _listing_index("ix_tasks_priority", "priority", "id"),
        _listing_index("ix_tasks_title", "title_key", "id"),
        Index(
            "ix_tasks_trash",
            "user_id",
            "deleted_at",
            "id",
            postgresql_where=TRASHED,
            sqlite_where=TRASHED,
        ),
        # Ids are never reused, not after a purge either: SQLite would hand the largest id out
        # again once its row is gone, unless the table is AUTOINCREMENT (PostgreSQL never does).
        {"sqlite_autoincrement": True},
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    title_key: str | None = Field(
        default=None,
        sa_column=Column(SortKey, nullable=False, default=_title_key, server_default=""),
    )
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def _refuse_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError(
            "null_not_allowed", "must not be null (leave the field out to keep its value)"
        )
    return value


class TaskCreate(SQLModel):
    title: Title
    description: Description | None = Field(default="", description="null is the same as empty.")
    priority: Priority = Priority.NONE
    due_at: UTCInstant | None = Field(default=None, description="With a time zone.")
    tags: Tags | None = Field(default=None, description="null is the same as none.")

    @field_validator("priority", mode="before")
    @classmethod
    def refuse_null(cls, value: object) -> object:
        return _refuse_null(value)


class TaskUpdate(SQLModel):
    """A partial update: fields left out stay as they are; a null description clears it, a null
    due date removes it, null or [] tags remove every tag, and tags given replace the set."""

    title: Title = Field(default=None, description="Leave out to keep; null is refused.")
    description: Description | None = Field(default=None, description="null clears it.")
    completed: StrictBool = Field(default=None, description="Leave out to keep; null is refused.")
    priority: Priority = Field(default=None, description="Leave out to keep; null is refused.")
    due_at: UTCInstant | None = Field(default=None, description="null removes the due date.")
    tags: Tags | None = Field(default=None, description="Replaces the set; null or [] clears it.")

    @field_validator("title", "completed", "priority", mode="before")
    @classmethod
    def refuse_null(cls, value: object) -> object:
        return _refuse_null(value)

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with a cleared description as the empty string and
        cleared tags as the empty list."""
        changes = self.model_dump(exclude_unset=True)
        if "description" in changes and changes["description"] is None:
            changes["description"] = ""
        if "tags" in changes and changes["tags"] is None:
            changes["tags"] = []
        return changes


class TaskPublic(TaskBase):
    """A task as REST answers it: every field of `TaskBase`, each always present."""

    model_config = SQLModelConfig(json_schema_serialization_defaults_required=True)

    id: int  # stored tasks always have one


class TrashedTask(TaskPublic):
    """A task in the trash, with the time it was moved there."""

    deleted_at: datetime


TASK_FIELDS = tuple(TaskBase.model_fields)  # the public fields, in answer order


class TaskOrderField(StrEnum):
    """The orders of a listing besides the default one (incomplete first, newest first)."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    DUE_AT = "due_at"
    PRIORITY = "priority"
    TITLE = "title"


class Sort(SQLModel):
    """An order and its direction: REST's `sort=-due_at`, GraphQL's `orderBy`."""

    field: TaskOrderField
    descending: bool = False

    @classmethod
    def parse(cls, value: str) -> "Sort":
        """`due_at` or `-due_at`; anything else raises ValueError."""
        descending = value.startswith("-")
        return cls(field=TaskOrderField(value.removeprefix("-")), descending=descending)


MAX_PAGE_SIZE = 500  # tasks on one page: REST's `limit`, GraphQL's `first`


class TaskPageSize(SQLModel):
    """GraphQL's `first`, checked by the rule that checks REST's `limit` (its `Field`)."""

    first: int = Field(ge=1, le=MAX_PAGE_SIZE)


class TaskFilter(SQLModel):
    completed: bool | None = None
    search: SearchText | None = None
    priorities: list[Priority] | None = Field(default=None, max_length=FILTER_VALUES_MAX)
    tags: list[TagName] | None = Field(default=None, max_length=FILTER_VALUES_MAX)
    due_before: UTCInstant | None = None
    due_after: UTCInstant | None = None
    overdue: bool | None = None

    @model_validator(mode="after")
    def drop_blanks(self) -> "TaskFilter":
        if self.search == "":
            self.search = None
        if not self.priorities:
            self.priorities = None
        if not self.tags:
            self.tags = None
        return self


class TaskStats(SQLModel):
    total: int
    completed: int
    pending: int


class TagCount(SQLModel):
    name: str
    task_count: int
