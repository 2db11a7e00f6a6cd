"""The trash's retention, kept without an operator: each worker purges on a schedule
(`trash.purge_expired`).

Every `TRASH_PURGE_INTERVAL_SECONDS` (and once at start-up) each worker of each instance deletes
the tasks trashed more than `TRASH_RETENTION_DAYS` ago, and the expired idempotency keys. Several
workers doing it at once is safe: each row is deleted once, by whichever statement gets it; the
others find nothing. A purge that fails (the database away) is logged and tried at the next turn.
"""

import logging
from datetime import timedelta

import anyio

from app.errors import ServiceError
from app.runtime import Runtime
from app.services.trash import purge_expired
from models.utc import utcnow

logger = logging.getLogger(__name__)


async def purge_trash_periodically(runtime: Runtime) -> None:
    settings = runtime.settings
    retention = timedelta(days=settings.trash_retention_days)
    while True:
        try:
            purged = await runtime.db.run(purge_expired, now=utcnow(), retention=retention)
        except ServiceError as error:
            logger.warning("trash purge skipped: %s", error.message)
        except Exception:  # the loop must outlive any one failure; the next turn tries again
            logger.exception("trash purge failed")
        else:
            if purged:
                logger.info("purged %d tasks past the trash's retention", purged)
        await anyio.sleep(settings.trash_purge_interval_seconds)
