"""sessions: one row per login, to list and describe them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:40:00

A session is a chain of refresh tokens (their `family_id`). Until now it was live while a token
of its chain was unrevoked; from here its row says so (`ended_at`), with when it started, when it
last got tokens, and the user agent that logged in. Chains already issued get their row: started
at their first token, last used at their newest, ended at their last revocation if no token of
theirs is unrevoked, and with no user agent (it was never recorded). A downgrade revokes the
tokens of ended sessions, so they stay ended.
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
    sa.Column('ended_at', models.utc.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_sessions_user_id'), 'sessions', ['user_id'], unique=False)

    tokens = _tokens()
    unrevoked = sa.func.sum(sa.case((tokens.c.revoked_at.is_(None), 1), else_=0))
    chains = sa.select(
        tokens.c.family_id,
        tokens.c.user_id,
        sa.func.min(tokens.c.created_at),
        sa.func.max(tokens.c.created_at),
        sa.case((unrevoked == 0, sa.func.max(tokens.c.revoked_at)), else_=None),
    ).group_by(tokens.c.family_id, tokens.c.user_id)
    columns = ['id', 'user_id', 'created_at', 'last_used_at', 'ended_at']
    op.execute(sessions.insert().from_select(columns, chains))


def _tokens() -> sa.TableClause:
    return sa.table(
        'refresh_tokens',
        sa.column('family_id', sa.Uuid()),
        sa.column('user_id', sa.Uuid()),
        sa.column('created_at', models.utc.UTCDateTime(timezone=True)),
        sa.column('revoked_at', models.utc.UTCDateTime(timezone=True)),
    )


def downgrade() -> None:
    tokens = _tokens()
    sessions = sa.table('sessions', sa.column('id', sa.Uuid()), sa.column('ended_at', models.utc.UTCDateTime(timezone=True)))
    ended_at = sa.select(sessions.c.ended_at).where(sessions.c.id == tokens.c.family_id).scalar_subquery()
    op.execute(
        tokens.update()
        .where(tokens.c.revoked_at.is_(None), ended_at.is_not(None))
        .values(revoked_at=ended_at)
    )
    op.drop_index(op.f('ix_sessions_user_id'), table_name='sessions')
    op.drop_table('sessions')
