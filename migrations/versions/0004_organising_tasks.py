"""organising tasks: priority, due date, tags, versions, the trash, idempotency keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:53:55

Existing tasks get priority none (rank 0), no due date, no tags, version 1, and their title
case-folded as `title_key` (computed here, in Python, as the services compute it). Every listing
order gets an index of the live tasks; the trash gets its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.task
import models.utc

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text('deleted_at IS NULL')
TRASHED = sa.text('deleted_at IS NOT NULL')
SORT_KEY = sa.String().with_variant(sa.String(collation='C'), 'postgresql')
LIVE_INDEXES = {
    'ix_tasks_created': ['created_at', 'id'],
    'ix_tasks_updated': ['updated_at', 'id'],
    'ix_tasks_due': ['due_at', 'id'],
    'ix_tasks_priority': ['priority', 'id'],
    'ix_tasks_title': ['title_key', 'id'],
}


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', models.task.PriorityRank(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('due_at', models.utc.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('tags', models.task.TagList(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('title_key', SORT_KEY, server_default='', nullable=False))
        batch_op.add_column(sa.Column('deleted_at', models.utc.UTCDateTime(timezone=True), nullable=True))

    tasks = sa.table('tasks', sa.column('id', sa.Integer()), sa.column('title', sa.String()), sa.column('title_key', sa.String()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(tasks.c.id, tasks.c.title)).all()
    if rows:
        connection.execute(
            tasks.update().where(tasks.c.id == sa.bindparam('task_id')).values(title_key=sa.bindparam('key')),
            [{'task_id': task_id, 'key': title.casefold()} for task_id, title in rows],
        )

    # Plain CREATE INDEX, not batch mode: on SQLite, batch mode would rebuild the table and lose
    # ix_tasks_listing, whose DESC columns it cannot reflect.
    for name, columns in LIVE_INDEXES.items():
        op.create_index(name, 'tasks', ['user_id', *columns], postgresql_where=LIVE, sqlite_where=LIVE)
    op.create_index('ix_tasks_trash', 'tasks', ['user_id', 'deleted_at', 'id'], postgresql_where=TRASHED, sqlite_where=TRASHED)
    if connection.dialect.name == 'postgresql':
        # Descending with missing due dates last: a backward scan of ix_tasks_due puts them first.
        op.create_index(
            'ix_tasks_due_desc', 'tasks',
            ['user_id', sa.text('due_at DESC NULLS LAST'), sa.text('id DESC')],
            postgresql_where=LIVE,
        )

    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', SORT_KEY, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'key', name='uq_tags_user_key')
    )
    op.create_table('task_tags',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'tag_id')
    )
    op.create_index('ix_task_tags_tag', 'task_tags', ['tag_id', 'task_id'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('expires_at', models.utc.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key')
    )
    op.create_index('ix_idempotency_keys_expires_at', 'idempotency_keys', ['expires_at'], unique=False)


def downgrade() -> None:
    """Back to wave one: trashed tasks are deleted for good (wave one has no trash, and they
    must not come back to life); tags, priorities, due dates and versions are dropped."""
    op.drop_index('ix_idempotency_keys_expires_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_task_tags_tag', table_name='task_tags')
    op.drop_table('task_tags')
    op.drop_table('tags')

    tasks = sa.table('tasks', sa.column('deleted_at', models.utc.UTCDateTime(timezone=True)))
    op.get_bind().execute(tasks.delete().where(tasks.c.deleted_at.is_not(None)))
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_tasks_due_desc', table_name='tasks')
    for name in ['ix_tasks_trash', *LIVE_INDEXES]:
        op.drop_index(name, table_name='tasks')
    # SQLite drops columns in place (ALTER TABLE DROP COLUMN, 3.35+), keeping ix_tasks_listing.
    for column in ['deleted_at', 'title_key', 'version', 'tags', 'due_at', 'priority']:
        op.drop_column('tasks', column)
