"""The input types of the GraphQL schema. Their rules live in `models/`, shared with REST."""

from datetime import datetime

import strawberry

from models.text import DESCRIPTION_MAX, TAGS_DESCRIPTION, TITLE_MAX
from schema.enums import OrderDirection, Priority, TaskOrderField


@strawberry.input
class SignupInput:
    email: str
    name: str
    password: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.input
class CreateTaskInput:
    title: str = strawberry.field(description=f"1 to {TITLE_MAX} characters after trimming.")
    description: str | None = strawberry.field(
        default="", description=f"Up to {DESCRIPTION_MAX} characters; null is the same as empty."
    )
    priority: Priority | None = Priority.NONE
    due_at: datetime | None = strawberry.field(default=None, description="With a time zone.")
    tags: list[str] | None = strawberry.field(default=None, description=TAGS_DESCRIPTION)


@strawberry.input(
    description="Fields left out stay as they are; a null description clears it, a null dueAt "
    "removes the due date, null or [] tags remove every tag."
)
class UpdateTaskInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    completed: bool | None = strawberry.UNSET
    priority: Priority | None = strawberry.UNSET
    due_at: datetime | None = strawberry.UNSET
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description=TAGS_DESCRIPTION
    )


@strawberry.input(name="TaskFilter")
class TaskFilterInput:
    completed: bool | None = strawberry.UNSET
    search: str | None = strawberry.field(
        default=strawberry.UNSET, description="Case-insensitive substring of title or description."
    )
    priorities: list[Priority] | None = strawberry.field(
        default=strawberry.UNSET, description="Any of these."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Every one of these (case-insensitively)."
    )
    due_before: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Due strictly before."
    )
    due_after: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Due at or after."
    )
    overdue: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Not completed and due before now (or the others)."
    )


@strawberry.input(name="TaskOrder", description="Ties are broken by id in the same direction.")
class TaskOrderInput:
    field: TaskOrderField
    direction: OrderDirection | None = OrderDirection.ASC  # null: ascending too


def provided(value: object) -> dict[str, object]:
    """The fields of an input object that the client actually sent (null included)."""
    return {name: field for name, field in vars(value).items() if field is not strawberry.UNSET}
