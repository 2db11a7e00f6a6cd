"""Tasks: the table and the task schemas of the API."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import StrictBool, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Index, desc
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from models.text import DESCRIPTION_MAX, TITLE_MAX, Description, SearchText, Title
from models.utc import UTCDateTime, utcnow

LISTING_INDEX = "ix_tasks_listing"


class TaskBase(SQLModel):
    """The fields of a task that its owner sees: the one list the table, the REST answers and the
    columns the services read all derive from (the GraphQL type is checked against it)."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    completed: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Task(TaskBase, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # Serves the default listing and keyset paging: owner, incomplete first, newest first.
        Index(LISTING_INDEX, "user_id", "completed", desc("created_at"), desc("id")),
    )

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")


class TaskCreate(SQLModel):
    title: Title
    description: Description | None = Field(default="", description="null is the same as empty.")


class TaskUpdate(SQLModel):
    """A partial update: fields left out stay as they are; a null description clears it."""

    title: Title = Field(default=None, description="Leave out to keep; null is refused.")
    description: Description | None = Field(default=None, description="null clears it.")
    completed: StrictBool = Field(default=None, description="Leave out to keep; null is refused.")

    @field_validator("title", "completed", mode="before")
    @classmethod
    def refuse_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError(
                "null_not_allowed", "must not be null (leave the field out to keep its value)"
            )
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with a cleared description as the empty string."""
        changes = self.model_dump(exclude_unset=True)
        if "description" in changes and changes["description"] is None:
            changes["description"] = ""
        return changes


class TaskPublic(TaskBase):
    """A task as REST answers it: every field of `TaskBase`, each always present."""

    model_config = SQLModelConfig(json_schema_serialization_defaults_required=True)

    id: int  # stored tasks always have one


TASK_FIELDS = tuple(TaskBase.model_fields)  # the public fields, in answer order


class TaskFilter(SQLModel):
    completed: bool | None = None
    search: SearchText | None = None

    @model_validator(mode="after")
    def drop_blank_search(self) -> "TaskFilter":
        if self.search == "":
            self.search = None
        return self


class TaskStats(SQLModel):
    total: int
    completed: int
    pending: int
