"""The GraphQL object types built from the services' rows, as their dataclass `__init__` would
build them."""

import dataclasses
import uuid
from datetime import UTC, datetime

from app.services.task_table import TRASH_FIELDS, task_row, trashed_row
from models.task import TASK_FIELDS
from schema.enums import Priority
from schema.types import TaskType, UserType

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OWNER = UserType(id=uuid.uuid4(), email="ada@example.com", name="Ada", created_at=NOW)
VALUES = {
    "id": 7,
    "title": "Write the report",
    "description": "",
    "completed": False,
    "priority": Priority.HIGH,
    "due_at": None,
    "tags": ["work"],
    "version": 3,
    "created_at": NOW,
    "updated_at": NOW,
    "deleted_at": NOW,
}


def test_a_task_row_holds_every_field_of_the_task_type_but_its_owner_and_trash_time() -> None:
    fields = {each.name for each in dataclasses.fields(TaskType)}
    assert fields == {*TASK_FIELDS, "owner", "deleted_at"}
    assert set(TRASH_FIELDS) == {*TASK_FIELDS, "deleted_at"}


def test_a_task_from_a_live_row_equals_one_built_by_its_init() -> None:
    row = task_row([VALUES[name] for name in TASK_FIELDS])
    built = TaskType.from_row(row, OWNER)
    assert built == TaskType(**row, owner=OWNER)
    assert built.deleted_at is None
    assert built.owner is OWNER


def test_a_task_from_a_trashed_row_equals_one_built_by_its_init() -> None:
    row = trashed_row([VALUES[name] for name in TRASH_FIELDS])
    built = TaskType.from_row(row, OWNER)
    assert built == TaskType(**row, owner=OWNER)
    assert built.deleted_at == NOW
