"""task ids never reused: SQLite's tasks table becomes AUTOINCREMENT

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 15:10:00

Without AUTOINCREMENT, SQLite hands the largest id out again once its row is gone: a purged
task's id went to the next task, another user's, and an Idempotency-Key replay of the purged one
then answered that user's task. PostgreSQL's sequences never hand a value out twice: there this
revision does nothing, either way.

SQLite cannot make a table AUTOINCREMENT in place, so `tasks` is rebuilt (batch mode), keeping
every row and id, every index and every foreign key. `task_tags` references it ON DELETE CASCADE,
and with foreign keys enforced, dropping the old table deletes its rows first, cascade included:
every task_tags row would go. So, as SQLite's own procedure for rebuilding a table says, foreign
keys are turned off around the rebuild, checked after it, and turned on again. That takes a
PRAGMA (SQLAlchemy has no expression for it), and PRAGMA foreign_keys changes nothing inside a
transaction: it runs in autocommit blocks, so the rebuild is committed before the revision is
stamped (SQLite's DDL is not transactional in Alembic anyway; running the revision again just
rebuilds the table again).

The sequence then starts at the largest id the table holds, or that an idempotency key still
answers (a task purged before this revision): the ids that could otherwise be handed out again.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTING_INDEX = 'ix_tasks_listing'
# The tables a rebuild of `tasks` could leave with a dangling reference.
CHECKED_TABLES = ('tasks', 'task_tags')


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    with _foreign_keys_off():
        _rebuild_tasks(autoincrement=True)
        _start_the_sequence_above_every_id()


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    with _foreign_keys_off():
        _rebuild_tasks(autoincrement=False)  # the table's row in sqlite_sequence goes with it


def _rebuild_tasks(*, autoincrement: bool) -> None:
    """Copy `tasks` into a new table declared (or not) AUTOINCREMENT, ids and all. Batch mode
    carries the columns, foreign keys and indexes over, partial ones with their WHERE, but not
    the DESC columns of ix_tasks_listing: that one is dropped first and written again as 0001
    wrote it."""
    op.drop_index(LISTING_INDEX, table_name='tasks')
    with op.batch_alter_table(
        'tasks', recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
    ):
        pass
    op.create_index(
        LISTING_INDEX,
        'tasks',
        ['user_id', 'completed', sa.text('created_at DESC'), sa.text('id DESC')],
    )


def _start_the_sequence_above_every_id() -> None:
    connection = op.get_bind()
    tasks = sa.table('tasks', sa.column('id', sa.Integer()))
    keys = sa.table('idempotency_keys', sa.column('body', sa.JSON()))
    answered = sa.func.json_extract(keys.c.body, '$.id', type_=sa.Integer())
    largest = max(
        connection.execute(sa.select(sa.func.max(tasks.c.id))).scalar() or 0,
        connection.execute(sa.select(sa.func.max(answered))).scalar() or 0,
    )
    sequence = sa.table(
        'sqlite_sequence', sa.column('name', sa.String()), sa.column('seq', sa.Integer())
    )
    connection.execute(sequence.delete().where(sequence.c.name == 'tasks'))
    if largest:
        connection.execute(sequence.insert().values(name='tasks', seq=largest))


def _foreign_keys_enforced() -> bool:
    return bool(op.get_bind().execute(sa.text('PRAGMA foreign_keys')).scalar())


def _set_foreign_keys(on: bool) -> None:
    with op.get_context().autocommit_block():  # the PRAGMA is a no-op inside a transaction
        op.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


@contextmanager
def _foreign_keys_off() -> Iterator[None]:
    """Foreign keys off for the block if they were on, then checked and on again. If the block
    fails they stay off: turning them on would commit the half-done rebuild (env.py closes its
    connection after a failed migration)."""
    enforced = _foreign_keys_enforced()
    if enforced and getattr(op.get_context(), '_in_external_transaction', False):
        # Alembic cannot step out of a transaction its caller began (autocommit_block asserts).
        raise RuntimeError(
            'revision 0007 must turn foreign keys off, which SQLite cannot do inside the '
            "caller's transaction: hand in a connection outside one, or with them off"
        )
    if enforced:
        _set_foreign_keys(False)
        if _foreign_keys_enforced():
            raise RuntimeError(
                'foreign keys could not be turned off; rebuilding tasks would empty task_tags'
            )
    yield
    if enforced:
        for table in CHECKED_TABLES:
            check = sa.text(f'PRAGMA foreign_key_check({table})')
            if dangling := op.get_bind().execute(check).all():
                raise RuntimeError(f'rebuilding tasks left dangling references: {dangling}')
        _set_foreign_keys(True)
