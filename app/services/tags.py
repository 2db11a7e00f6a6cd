"""Tags: a user's names for their tasks, one per case-folded name.

A task's tags are written in three places, in one transaction: the user's `tags` rows (made on
first use), the `task_tags` links (what filters and counts read), and the task's own `tags` column
(the names as answered, so a page of tasks needs no join). A tag's spelling is the first one
written while any task carries it; a tag no task carries is gone to the API, and the next spelling
written replaces it (`_upsert`).
"""

import uuid
from functools import cache

from sqlalchemy import String, Uuid, bindparam, delete, exists, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from app.prepared import AnySelect
from app.security import TokenClaims
from app.services.sessions import caller, require_session
from app.services.task_table import LIVE, TASKS
from app.statements import Runner
from models.tables import table, upsert
from models.tag import Tag, TaskTag
from models.task import TagCount
from models.text import tag_key

_tags = table(Tag)
_task_tags = table(TaskTag)
_user_id = bindparam("user_id", type_=Uuid())


def _keys(count: int) -> list[object]:
    return [bindparam(f"key_{i}", type_=String()) for i in range(count)]


_carrier = _tags.alias("carrier")


@cache
def _upsert(dialect: str, count: int) -> postgresql.Insert | sqlite.Insert:
    """Make the user's `count` tags that do not exist yet; rename those no task carries.

    SQLAlchemy does not correlate a subquery of the conflict's WHERE with the row in conflict (it
    would read `EXISTS (SELECT * FROM task_tags, tags ...)`: any link of any tag anywhere, so a
    tag was renamed only while no task at all carried a tag). So the WHERE asks the other way:
    the row is not among the user's tags of these keys that some task carries (trashed tasks
    included: a restore brings their tags back), a subquery of its own, read once."""
    keys = _keys(count)
    rows = [
        {"user_id": _user_id, "name": bindparam(f"name_{i}", type_=String()), "key": key}
        for i, key in enumerate(keys)
    ]
    statement = upsert(dialect, _tags).values(rows)
    carried = select(_carrier.c.id).where(
        _carrier.c.user_id == _user_id,
        _carrier.c.key.in_(keys),
        exists().where(_task_tags.c.tag_id == _carrier.c.id),
    )
    return statement.on_conflict_do_update(
        index_elements=[_tags.c.user_id, _tags.c.key],
        set_={"name": statement.excluded.name},
        where=_tags.c.id.not_in(carried),
    )


@cache
def _names(count: int) -> AnySelect:
    return (
        select(_tags.c.name)
        .where(_tags.c.user_id == _user_id, _tags.c.key.in_(_keys(count)))
        .order_by(_tags.c.key)
    )


_UNLINK = delete(_task_tags).where(_task_tags.c.task_id == bindparam("task_id"))


@cache
def _link(count: int) -> Insert:
    return insert(_task_tags).from_select(
        ["task_id", "tag_id"],
        select(bindparam("task_id", type_=_task_tags.c.task_id.type), _tags.c.id).where(
            _tags.c.user_id == _user_id, _tags.c.key.in_(_keys(count))
        ),
    )


def _values(user_id: uuid.UUID, names: list[str]) -> dict[str, object]:
    values: dict[str, object] = {"user_id": user_id}
    for i, name in enumerate(names):
        values |= {f"name_{i}": name, f"key_{i}": tag_key(name)}
    return values


def resolve(runner: Runner, user_id: uuid.UUID, names: list[str]) -> list[str]:
    """The user's tags of `names` (distinct by key, as `models.text.Tags` leaves them), made
    where new: their names as answered, sorted case-insensitively. Runs in a transaction."""
    if not names:
        return []
    values = _values(user_id, sorted(names, key=tag_key))  # rows locked in one order
    runner.all(_upsert(runner.dialect_name, len(names)), values)
    return [name for (name,) in runner.all(_names(len(names)), values)]


def attach(runner: Runner, user_id: uuid.UUID, task_id: int, names: list[str]) -> None:
    """Make `names` (resolved) the task's whole set of tags. Runs in a transaction."""
    runner.all(_UNLINK, {"task_id": task_id})
    if names:
        runner.all(_link(len(names)), {**_values(user_id, names), "task_id": task_id})


_TAG_COUNTS = (
    select(_tags.c.name, func.count())
    .select_from(_tags.join(_task_tags).join(TASKS))
    .where(_tags.c.user_id == _user_id, LIVE)
    .group_by(_tags.c.id, _tags.c.name, _tags.c.key)
    .order_by(_tags.c.key)
)


def tag_counts(runner: Runner, viewer: TokenClaims, /) -> list[TagCount]:
    """The user's tags that live tasks carry, by name case-insensitively, with how many."""
    found = runner.all(_TAG_COUNTS, caller(viewer))
    if not found:
        require_session(runner, viewer)
    return [TagCount(name=name, task_count=count) for name, count in found]
