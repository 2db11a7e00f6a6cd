"""The users table's rows, read back into `User`s (`app.services.users`)."""

import subprocess
import sys

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


def test_a_user_read_first_thing_in_a_fresh_process_reads_its_fields() -> None:
    """The first `User` a served process makes may come from a row, before SQLAlchemy has
    configured its mappers (a test process has made users by then): a `User` built without its
    instance state answered 500 there (the reliability tests caught it; not in process)."""
    script = (
        "import uuid; from models.utc import utcnow; from app.services.users import from_row; "
        "row = (uuid.uuid4(), 'ada@example.com', 'Ada', 'x' * 60, utcnow(), utcnow()); "
        "print(from_row(row).name)"
    )
    done = subprocess.run(  # noqa: S603  # this interpreter, a script of this test's
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stdout.strip() == "Ada", done.stderr
