"""Safe retries of `POST /api/tasks`: an `Idempotency-Key` creates one task, however often sent.

The first request with a key (per user) creates the task and records the key with its answer in
the same transaction, so a key is never recorded without its task nor a task left without its key.
A repeat within `IDEMPOTENCY_TTL` with the same request answers the recorded answer again and
creates nothing; with another request it is a conflict.

Concurrent requests with one key: each creates its task and tries to record the key; the unique
key makes the later ones wait for the first to commit, then fail, which rolls their task back.
They answer the first one's answer. A request that fails (4xx) records nothing.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from app.errors import IdempotencyConflict
from app.security import TokenClaims
from app.services.tasks import create_task
from app.statements import Runner
from models.idempotency import IdempotencyKey
from models.tables import table
from models.task import TaskCreate
from models.utc import utcnow

IDEMPOTENCY_TTL = timedelta(hours=24)
KEY_REUSED = "Idempotency-Key was already used with a different request"
KEY_IN_USE = "A request with this Idempotency-Key is in progress"

_keys = table(IdempotencyKey)
_columns = _keys.c
_this_key = (_columns.user_id == bindparam("user_id"), _columns.key == bindparam("key"))
_now = bindparam("now", type_=_columns.expires_at.type)
_RECORDED = select(_columns.fingerprint, _columns.status_code, _columns.body).where(
    *_this_key, _columns.expires_at > _now
)
_FORGET_EXPIRED = delete(_keys).where(*_this_key, _columns.expires_at <= _now)
_RECORD = insert(_keys).values(
    {column.name: bindparam(column.name, type_=column.type) for column in _columns}
)


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def fingerprint(data: TaskCreate) -> str:
    """What makes two requests the same: the task they ask for, after validation."""
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


def _replay(found: Any, wanted: str) -> Answer:
    recorded, status_code, body = found
    if recorded != wanted:
        raise IdempotencyConflict(KEY_REUSED)
    return Answer(status_code, body, replayed=True)


def create_once(
    runner: Runner,
    viewer: TokenClaims,
    /,
    *,
    key: str,
    data: TaskCreate,
    now: datetime | None = None,
) -> Answer:
    """Create the task unless this key has already created one; the answer to give."""
    now = now or utcnow()
    wanted = fingerprint(data)
    this = {"user_id": viewer.user_id, "key": key, "now": now}
    if (found := runner.first(_RECORDED, this)) is not None:
        return _replay(found, wanted)
    try:
        with runner.transaction():
            task = create_task(runner, viewer, data=data)
            body = orjson.loads(orjson.dumps(task, option=orjson.OPT_UTC_Z))
            runner.all(_FORGET_EXPIRED, this)
            record = {"fingerprint": wanted, "status_code": 201, "body": body}
            runner.all(_RECORD, {**this, **record, "expires_at": now + IDEMPOTENCY_TTL})
            return Answer(201, body, replayed=False)
    except IntegrityError:
        pass  # another request recorded the key first (and its task stands, not ours)
    if (found := runner.first(_RECORDED, this)) is not None:
        return _replay(found, wanted)
    raise IdempotencyConflict(KEY_IN_USE)  # recorded and already expired, or gone: retry
