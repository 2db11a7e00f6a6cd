"""Idempotency keys: what a `POST /api/tasks` with an `Idempotency-Key` answered, for replays."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from models.text import SHA256_HEX_LENGTH
from models.utc import UTCDateTime

IDEMPOTENCY_KEY_MAX = 255


class IdempotencyKey(SQLModel, table=True):
    """One key of one user: the fingerprint of the request that claimed it and the answer it got.
    Rows past `expires_at` are ignored, and removed by the retention purge."""

    __tablename__ = "idempotency_keys"

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(max_length=IDEMPOTENCY_KEY_MAX, primary_key=True)
    fingerprint: str = Field(
        max_length=SHA256_HEX_LENGTH, description="SHA-256 of the request, in hex."
    )
    status_code: int
    body: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
