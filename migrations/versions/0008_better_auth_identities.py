"""identities: the Better Auth sign-ins that speak for users, and the ones deleted

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 15:10:00

A Better Auth identity (issuer, subject) belongs to one user, and a user has at most one per
issuer. When a user is deleted, the deletion of their identities is remembered, so that tokens
issued before it cannot bring the account back.

Accounts made by a Better Auth sign-in have no password: their `password_hash` is `!`, which no
bcrypt hash is and no password matches, so `users.password_hash` keeps its NOT NULL (and SQLite
its table). A downgrade drops both tables: such accounts stay, with their tasks, and can no
longer sign in (as before this revision, when nothing could sign them in).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.utc

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deleted_identities',
    sa.Column('issuer', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('deleted_at', models.utc.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('issuer', 'subject')
    )
    op.create_table('identities',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('issuer', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created_at', models.utc.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer', 'subject', name='uq_identities_issuer_subject'),
    sa.UniqueConstraint('user_id', 'issuer', name='uq_identities_user_id_issuer')
    )


def downgrade() -> None:
    op.drop_table('identities')
    op.drop_table('deleted_identities')
