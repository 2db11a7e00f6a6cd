"""SQLModel tables and the API schemas built on them."""

from models.idempotency import IdempotencyKey
from models.identity import DeletedIdentity, Identity
from models.persisted_query import PersistedQuery
from models.session import LoginSession
from models.tag import Tag, TaskTag
from models.task import DUE_DESC_INDEX, LISTING_INDEX, Task
from models.token import RefreshToken
from models.user import User

__all__ = [
    "DeletedIdentity",
    "IdempotencyKey",
    "Identity",
    "LoginSession",
    "PersistedQuery",
    "RefreshToken",
    "Tag",
    "Task",
    "TaskTag",
    "User",
    "include_in_autogenerate",
]


def include_in_autogenerate(
    _obj: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """Alembic cannot reflect DESC index columns on SQLite, so autogenerate would drop and
    re-create those indexes every time; they are written by hand in the migrations and checked
    by a test."""
    return not (type_ == "index" and name in {LISTING_INDEX, DUE_DESC_INDEX})
