"""The input types of the GraphQL schema. Their rules live in `models/`, shared with REST."""

import strawberry

from models.text import DESCRIPTION_MAX, TITLE_MAX


@strawberry.input
class SignupInput:
    email: str
    name: str
    password: str


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


@strawberry.input(description="Fields left out stay as they are; a null description clears it.")
class UpdateTaskInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    completed: bool | None = strawberry.UNSET


@strawberry.input(name="TaskFilter")
class TaskFilterInput:
    completed: bool | None = strawberry.UNSET
    search: str | None = strawberry.field(
        default=strawberry.UNSET, description="Case-insensitive substring of title or description."
    )


def provided(value: object) -> dict[str, object]:
    """The fields of an input object that the client actually sent (null included)."""
    return {name: field for name, field in vars(value).items() if field is not strawberry.UNSET}
