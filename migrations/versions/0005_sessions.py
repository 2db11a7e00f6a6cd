"""sessions: one row per login, to list and describe them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:40:00

A session is a chain of refresh tokens (their `family_id`); it stays live while a token of the
chain is unrevoked, so this table only describes it: when it started, when it last got tokens,
and the user agent that logged in. Chains already issued get their row here, started at their
first token and last used at their newest, with no user agent (it was never recorded).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.utc

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sessions = op.create_table('sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.utc.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', models.utc.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_sessions_user_id'), 'sessions', ['user_id'], unique=False)

    tokens = sa.table(
        'refresh_tokens',
        sa.column('family_id', sa.Uuid()),
        sa.column('user_id', sa.Uuid()),
        sa.column('created_at', models.utc.UTCDateTime(timezone=True)),
    )
    chains = sa.select(
        tokens.c.family_id, tokens.c.user_id, sa.func.min(tokens.c.created_at), sa.func.max(tokens.c.created_at)
    ).group_by(tokens.c.family_id, tokens.c.user_id)
    op.execute(sessions.insert().from_select(['id', 'user_id', 'created_at', 'last_used_at'], chains))


def downgrade() -> None:
    op.drop_index(op.f('ix_sessions_user_id'), table_name='sessions')
    op.drop_table('sessions')
