"""Tags: per user, attached to tasks through `task_tags`."""

import uuid

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.task import SortKey
from models.text import TAG_MAX


class Tag(SQLModel, table=True):
    """A user's tag. `key` is the case-folded name (what makes two names one tag); `name` is the
    spelling first written, until no task carries the tag any more: the next one written then
    replaces it (a tag nobody carries is gone, to the API)."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_tags_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    name: str = Field(max_length=TAG_MAX)
    key: str = Field(sa_column=Column(SortKey, nullable=False))


class TaskTag(SQLModel, table=True):
    """That a task carries a tag. Trashed tasks keep theirs (a restore brings them back)."""

    __tablename__ = "task_tags"
    __table_args__ = (Index("ix_task_tags_tag", "tag_id", "task_id"),)

    task_id: int = Field(foreign_key="tasks.id", ondelete="CASCADE", primary_key=True)
    tag_id: int = Field(foreign_key="tags.id", ondelete="CASCADE", primary_key=True)
