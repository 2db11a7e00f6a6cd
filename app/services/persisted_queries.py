"""The store of automatic persisted queries: documents by the SHA-256 of their text, in the
database so that every instance knows what any of them was sent, and bounded (the oldest go)."""

from functools import cache

from sqlalchemy import Insert, bindparam, delete, select

from app.statements import Runner
from models.persisted_query import PersistedQuery
from models.tables import table, upsert
from models.utc import utcnow

_queries = table(PersistedQuery)

_FIND = select(_queries.c.document).where(_queries.c.sha256 == bindparam("sha256"))
# Beyond the newest `:most`, by registration.
_TRIM = delete(_queries).where(
    _queries.c.sha256.in_(
        select(_queries.c.sha256)
        .order_by(_queries.c.created_at.desc(), _queries.c.sha256)
        .offset(bindparam("most"))
    )
)


@cache
def _store(dialect: str) -> Insert:
    """Register a document; one already there (another instance was first) stays."""
    return (
        upsert(dialect, _queries)
        .values(
            sha256=bindparam("sha256"),
            document=bindparam("document"),
            created_at=bindparam("now", type_=_queries.c.created_at.type),
        )
        .on_conflict_do_nothing(index_elements=[_queries.c.sha256])
        .returning(_queries.c.sha256)
    )


def find_document(runner: Runner, /, *, sha256: str) -> str | None:
    found: str | None = runner.scalar(_FIND, {"sha256": sha256})
    return found


def store_document(runner: Runner, /, *, sha256: str, document: str, most: int) -> None:
    """Register `document` under `sha256`, then forget the oldest past `most` (only when this
    one was new: a registration that changed nothing cannot overfill the store)."""
    values = {"sha256": sha256, "document": document, "now": utcnow()}
    if runner.first(_store(runner.dialect_name), values) is not None:
        runner.all(_TRIM, {"most": most})
