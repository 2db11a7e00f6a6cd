"""Opaque keyset cursors for task pages, signed for one user: they cannot be forged, nor used on
another user's list."""

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.errors import FieldError, InvalidInput


@dataclass(frozen=True)
class Position:
    """Where a page ended, in the listing order's terms."""

    completed: bool
    created_at: datetime
    id: int


def _sign(payload: bytes, user_id: uuid.UUID, key: str) -> bytes:
    message = user_id.bytes + payload
    return hmac.new(key.encode(), message, hashlib.sha256).digest()[:16]


def encode_cursor(task: Mapping[str, Any], user_id: uuid.UUID, key: str) -> str:
    """The cursor just after `task` (a task row: `completed`, `created_at`, `id`)."""
    payload = orjson.dumps([task["completed"], task["created_at"].isoformat(), task["id"]])
    return base64.urlsafe_b64encode(_sign(payload, user_id, key) + payload).decode().rstrip("=")


def decode_cursor(cursor: str, user_id: uuid.UUID, key: str) -> Position:
    invalid = InvalidInput("Invalid cursor", [FieldError("after", "is not a valid cursor")])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, payload = raw[:16], raw[16:]
        if not hmac.compare_digest(signature, _sign(payload, user_id, key)):
            raise invalid
        completed, created_at, task_id = orjson.loads(payload)
        return Position(bool(completed), datetime.fromisoformat(created_at), int(task_id))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise invalid from None
