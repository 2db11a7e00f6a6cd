"""Sessions: one per login, what a person sees of where they are signed in."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from models.text import NewPassword, Password
from models.utc import UTCDateTime

USER_AGENT_MAX = 255


class LoginSession(SQLModel, table=True):
    """One login, and the chain of refresh tokens it started.

    The id is the `session_id` of its refresh tokens and the `sid` of its access tokens. A session
    is live until `ended_at` is set (logout, revocation, reuse detection, a password change); then
    neither its access tokens nor its refresh tokens work. A refresh updates the row before it
    rotates the token, and ending a session updates it too, so the two are ordered by the row's
    lock: a refresh can never slip a fresh token past an ending.

    `last_used_at` moves when the session gets tokens (login and every refresh), not on each
    request, so reading costs no write; it is exact to within an access token's lifetime.
    """

    __tablename__ = "sessions"

    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    user_agent: str | None = Field(default=None, max_length=USER_AGENT_MAX)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SessionPublic(SQLModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    current: bool = Field(description="True for the session of the request's own access token.")


class PasswordChange(SQLModel):
    current_password: Password
    new_password: NewPassword


class AccountDeletion(SQLModel):
    password: Password | None = Field(
        default=None, description="Required, but with a Better Auth token of the last 5 minutes."
    )
