"""The enums of the GraphQL schema: the services' own, registered under the contract's names
(`strawberry.enum` marks the class itself), so values pass between the layers unconverted."""

from enum import Enum

import strawberry

from app.events import TaskEventKind
from models.task import Priority, TaskOrderField

strawberry.enum(Priority, name="Priority")
strawberry.enum(TaskOrderField, name="TaskOrderField")
strawberry.enum(TaskEventKind, name="TaskEventKind")


@strawberry.enum
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


__all__ = ["OrderDirection", "Priority", "TaskEventKind", "TaskOrderField"]
