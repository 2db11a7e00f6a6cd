"""Users: the table and the account schemas of the API."""

import uuid
from datetime import datetime
from typing import Literal

from sqlmodel import Column, Field, SQLModel, String
from sqlmodel._compat import SQLModelConfig

from models.text import EMAIL_MAX, NAME_MAX, Email, LoginEmail, Name, NewPassword, Password, Token
from models.utc import UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(sa_column=Column(String(EMAIL_MAX), unique=True, nullable=False))
    name: str = Field(max_length=NAME_MAX)
    password_hash: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class SignupRequest(SQLModel):
    email: Email
    name: Name
    password: NewPassword


class LoginRequest(SQLModel):
    email: LoginEmail
    password: Password


class RefreshRequest(SQLModel):
    refresh_token: Token


class UserPublic(SQLModel):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime


class Tokens(SQLModel):
    model_config = SQLModelConfig(json_schema_serialization_defaults_required=True)

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Lifetime of the access token in seconds.")
