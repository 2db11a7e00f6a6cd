"""The users table's rows: found by email, inserted, read into a `User`. Accounts (signup,
login) and identities (a Better Auth sign-in's first sight) both make and find users."""

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import configure_mappers

from app.prepared import Row
from app.statements import Runner
from models.tables import table
from models.user import User

USERS = table(User)
_COLUMNS = tuple(USERS.c.keys())

# `from_row`'s users have no SQLAlchemy instance state: their fields are read from the
# instance's dict by the mapped attributes, which know how only once the mappers are
# configured. SQLAlchemy configures them at the first ORM use, which a served process may not
# have made before its first user arrives (then reading a field raised: 500s on login).
configure_mappers()


def from_row(row: Row) -> User:
    """A row of `select(*USERS.c)` as a `User`, to read.

    Built without validation: the values come from the table, typed by its columns, and
    validating a table model costs 43 us against 6 (it sets up SQLAlchemy's instance state and
    sets every attribute through it); every request that reads its user paid it. So the `User`
    has no instance state: reading its fields and `model_dump` work, setting a field or adding
    it to an ORM session does not (nothing here does either)."""
    return User.model_construct(**dict(zip(_COLUMNS, row, strict=True)))


_BY_EMAIL = select(*USERS.c).where(USERS.c.email == bindparam("email"))


def by_email(runner: Runner, /, *, email: str) -> User | None:
    found = runner.first(_BY_EMAIL, {"email": email})
    return from_row(found) if found is not None else None


_INSERT = insert(USERS).values({column.name: bindparam(column.name) for column in USERS.c})


def insert_user(runner: Runner, user: User) -> None:
    """Insert `user`; `IntegrityError` when its email is taken (normalised emails are unique)."""
    runner.all(_INSERT, user.model_dump())
