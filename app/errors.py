"""Domain errors raised by the services. Each door (REST, GraphQL) maps them once."""

from dataclasses import dataclass


class ServiceError(Exception):
    """Base of the errors a client may see; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    pass


class AuthError(ServiceError):
    """The request is not authenticated, or the credentials are wrong."""


class Unavailable(ServiceError):
    """Something the service depends on (the database, the throttle store) did not answer."""


class RateLimited(ServiceError):
    """Too many attempts; `retry_after` is the wait in seconds, or None to retry at once in
    another request."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InvalidInput(ServiceError):
    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Conflict(InvalidInput):
    """The input is well formed but clashes with what is stored (an email already registered)."""


class IdentityConflict(ServiceError):
    """A Better Auth identity that cannot go where it would: its email, or the identity itself,
    belongs to another account, or the account already has one of that issuer (409)."""


class VersionMismatch(ServiceError):
    """A conditional write named another version than the task's current one: nothing changed."""

    def __init__(self, current_version: int) -> None:
        super().__init__("Task has changed")
        self.current_version = current_version


class IdempotencyConflict(ServiceError):
    """An `Idempotency-Key` already used with another request, or still in use by one."""
