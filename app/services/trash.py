"""The trash's retention: tasks trashed longer than `TRASH_RETENTION_DAYS` go for good.

`tasks.delete_task` moves a task to the trash (it sets `deleted_at`); `tasks.restore_task` brings
it back, `tasks.purge_task` and `tasks.empty_trash` delete it for good, and `purge_expired` does
so for every user once its retention has passed.
"""

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete

from app.services.task_table import COLUMNS, TASKS, TRASHED
from app.services.tasks import PURGED
from app.statements import Runner
from models.idempotency import IdempotencyKey
from models.tables import table
from models.utc import UTCDateTime

_keys = table(IdempotencyKey)
_cutoff = bindparam("cutoff", type_=UTCDateTime())


_EXPIRED_TASKS = (
    delete(TASKS).where(TRASHED, COLUMNS.deleted_at < _cutoff).returning(COLUMNS.id, PURGED)
)
_EXPIRED_KEYS = delete(_keys).where(_keys.c.expires_at <= bindparam("now", type_=UTCDateTime()))


def purge_expired(runner: Runner, *, now: datetime, retention: timedelta) -> int:
    """Delete, for every user, the tasks trashed longer than `retention` before `now`, and the
    idempotency keys expired by `now`; how many tasks went. Safe to run anywhere at any time:
    two runs at once delete each row once."""
    purged = runner.all(_EXPIRED_TASKS, {"cutoff": now - retention, "now": now})
    runner.all(_EXPIRED_KEYS, {"now": now})
    return len(purged)
