"""Opaque keyset cursors for task pages, signed for one user: they cannot be forged, nor used on
another user's list, nor on another order or filter than the one they were made for."""

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import FieldError, InvalidInput

INVALID_CURSOR = InvalidInput("Invalid cursor", [FieldError("after", "is not a valid cursor")])


@dataclass(frozen=True)
class Position:
    """Where a page ended: the listing it belongs to (`listing`: its order and filter, as a
    fingerprint), the segment of that order, and the key of the last task in it (JSON values)."""

    listing: str
    segment: int
    key: tuple[Any, ...]


def _sign(payload: bytes, user_id: uuid.UUID, key: str) -> bytes:
    message = user_id.bytes + payload
    return hmac.new(key.encode(), message, hashlib.sha256).digest()[:16]


def encode_cursor(position: Position, user_id: uuid.UUID, key: str) -> str:
    payload = orjson.dumps([position.listing, position.segment, position.key])
    return base64.urlsafe_b64encode(_sign(payload, user_id, key) + payload).decode().rstrip("=")


def decode_cursor(cursor: str, user_id: uuid.UUID, key: str, listing: str) -> Position:
    """The position `cursor` names; `INVALID_CURSOR` unless this user's server signed it for
    this `listing`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, payload = raw[:16], raw[16:]
        if not hmac.compare_digest(signature, _sign(payload, user_id, key)):
            raise INVALID_CURSOR
        made_for, segment, values = orjson.loads(payload)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise INVALID_CURSOR from None
    # The key's values are the listing's to check (`Segment.position_values`): only it knows
    # the types and ranges its order's columns take.
    if made_for != listing or type(segment) is not int or not isinstance(values, list):
        raise INVALID_CURSOR
    return Position(listing, segment, tuple(values))
