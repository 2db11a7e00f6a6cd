"""The REST API's answers that are not a resource: a message, and the error bodies (for the
OpenAPI document; `app.api.error_handlers` writes them)."""

from sqlmodel import SQLModel


class ErrorBody(SQLModel):
    detail: str


class FieldErrorBody(SQLModel):
    field: str
    message: str


class ValidationErrorBody(SQLModel):
    detail: str
    errors: list[FieldErrorBody]


class VersionMismatchBody(SQLModel):
    detail: str
    current_version: int


class Message(SQLModel):
    message: str


class Purged(SQLModel):
    purged: int
