"""Refresh tokens as the server records them, for rotation, reuse detection and logout."""

import uuid
from datetime import datetime

from sqlalchemy import Column, Uuid
from sqlmodel import Field, SQLModel

from models.utc import UTCDateTime, utcnow


class RefreshToken(SQLModel, table=True):
    """One issued refresh token.

    Tokens issued by rotation share the `session_id` of the login that started the chain (its
    `LoginSession`), which presenting a retired token ends. `created_at` is the
    token's `iat`: with `expires_at` and the ids it signs the very same token again, which the
    refresh grace answers to a double submit.
    """

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(primary_key=True, description="The token's `jti` claim.")
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    # The column keeps its first name, family_id (a session was first called a token family).
    session_id: uuid.UUID = Field(
        sa_column=Column("family_id", Uuid(), key="session_id", nullable=False, index=True)
    )
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        description="When the token was retired by rotation (or, before sessions, revoked).",
    )
    replaced_by: uuid.UUID | None = Field(
        default=None, description="The successor this token was rotated into, if it was."
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
