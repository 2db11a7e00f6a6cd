"""Error bodies of the REST API, for the OpenAPI document."""

from sqlmodel import SQLModel


class ErrorBody(SQLModel):
    detail: str


class FieldErrorBody(SQLModel):
    field: str
    message: str


class ValidationErrorBody(SQLModel):
    detail: str
    errors: list[FieldErrorBody]
