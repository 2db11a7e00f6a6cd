"""SQLModel tables and the API schemas built on them."""

from models.task import Task
from models.token import RefreshToken
from models.user import User

__all__ = ["RefreshToken", "Task", "User"]
