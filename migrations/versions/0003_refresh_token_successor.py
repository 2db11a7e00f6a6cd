"""refresh tokens name their successor

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:30:00

A rotated refresh token records the token it was rotated into, so that presenting it again
within REFRESH_REUSE_GRACE_SECONDS can answer that same successor instead of revoking the chain.
Tokens rotated before this migration have none: replaying them is treated as theft, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_by', sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('replaced_by')
