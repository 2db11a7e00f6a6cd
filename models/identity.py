"""Identities: the sign-ins of another service (a Better Auth server) that speak for users here.

An identity is the pair (issuer, subject) of the tokens that server issues: `iss` and `sub`. It
belongs to one user, and a user has at most one identity of each issuer. When a user is deleted,
their identities go with them, and each one's deletion is remembered (`DeletedIdentity`): a token
issued before it must not bring the account back, one issued after it makes a new one.
"""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.text import Token
from models.utc import UTCDateTime, utcnow

ISSUER_MAX = 1024  # a URL
SUBJECT_MAX = 255


class Identity(SQLModel, table=True):
    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),
        UniqueConstraint("user_id", "issuer", name="uq_identities_user_id_issuer"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    issuer: str = Field(max_length=ISSUER_MAX)
    subject: str = Field(max_length=SUBJECT_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DeletedIdentity(SQLModel, table=True):
    """An identity whose user was deleted, and when: tokens of it issued until then are refused."""

    __tablename__ = "deleted_identities"

    issuer: str = Field(max_length=ISSUER_MAX, primary_key=True)
    subject: str = Field(max_length=SUBJECT_MAX, primary_key=True)
    deleted_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class IdentityLink(SQLModel):
    """The body of `POST /api/auth/identities`: a Better Auth token of the identity to link."""

    token: Token
