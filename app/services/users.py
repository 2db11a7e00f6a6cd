"""The users table's rows: found by email, inserted, read into a `User`. Accounts (signup,
login) and identities (a Better Auth sign-in's first sight) both make and find users."""

from sqlalchemy import bindparam, insert, select

from app.statements import Row, Runner
from models.tables import table
from models.user import User

USERS = table(User)


def from_row(row: Row) -> User:
    """A row of `select(*USERS.c)` as a `User`."""
    return User.model_validate(dict(zip(USERS.c.keys(), row, strict=True)))


_BY_EMAIL = select(*USERS.c).where(USERS.c.email == bindparam("email"))


def by_email(runner: Runner, /, *, email: str) -> User | None:
    found = runner.first(_BY_EMAIL, {"email": email})
    return from_row(found) if found is not None else None


_INSERT = insert(USERS).values({column.name: bindparam(column.name) for column in USERS.c})


def insert_user(runner: Runner, user: User) -> None:
    """Insert `user`; `IntegrityError` when its email is taken (normalised emails are unique)."""
    runner.all(_INSERT, user.model_dump())
