"""Persisted GraphQL documents (Apollo's automatic persisted queries), shared by every instance."""

from datetime import datetime

from sqlmodel import Column, Field, SQLModel, Text

from models.text import SHA256_HEX_LENGTH
from models.utc import UTCDateTime, utcnow


class PersistedQuery(SQLModel, table=True):
    """A document registered by a client under the SHA-256 of its text. The text decides the
    hash, so a row never changes: instances may cache it for as long as they like."""

    __tablename__ = "persisted_queries"

    sha256: str = Field(primary_key=True, max_length=SHA256_HEX_LENGTH)
    document: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
