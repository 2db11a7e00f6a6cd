"""persisted queries: GraphQL documents by the SHA-256 of their text

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 13:20:00

Automatic persisted queries are registered by clients on any instance and asked for by hash
on any other, so the store is a table; it starts empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.utc

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('persisted_queries',
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('created_at', models.utc.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_index(op.f('ix_persisted_queries_created_at'), 'persisted_queries', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_persisted_queries_created_at'), table_name='persisted_queries')
    op.drop_table('persisted_queries')
