"""The users table's rows, read back into `User`s (`app.services.users`)."""

from app.services import users
from app.statements import Runner
from models.user import User
from models.utc import utcnow


def test_a_user_reads_back_as_it_was_written(runner: Runner) -> None:
    written = User(email="ada@example.com", name="Ada", password_hash="x" * 60)
    users.insert_user(runner, written)
    found = users.by_email(runner, email="ada@example.com")
    assert found is not None
    assert found.model_dump() == written.model_dump()
    assert {name: type(value) for name, value in found} == {
        name: type(value) for name, value in written
    }
    assert found.created_at.utcoffset() is not None  # aware, in UTC
    assert found.created_at <= utcnow()


def test_no_user_reads_as_none(runner: Runner) -> None:
    assert users.by_email(runner, email="nobody@example.com") is None
