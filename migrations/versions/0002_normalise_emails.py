"""normalise stored emails

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 06:10:00

Emails were stored trimmed and lower-cased; the contract now stores email-validator's normal form
(domain IDNA-normalised), lower-cased. Each address that is not in that form yet takes it, unless
another account holds it already (an account whose address is in normal form keeps it; among the
rest the oldest wins). An account that loses such a collision keeps its stored address, untouched
with all its data, and is named in a warning: it can no longer log in, and an operator decides
whether to merge it or tell its owner. The rule is copied here, not imported, so that this
migration does the same thing whatever the application's code says later.
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("created_at", sa.DateTime()),
)


def _normalised(email: str) -> str | None:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(users.c.id, users.c.email).order_by(users.c.created_at, users.c.id)
    ).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        normalised = _normalised(email)
        if normalised is None or normalised == email:
            continue
        if normalised in taken:
            logger.warning(
                "user %s keeps the email %r: its normal form %r belongs to another account",
                user_id, email, normalised,
            )
            continue
        connection.execute(users.update().where(users.c.id == user_id).values(email=normalised))
        taken.discard(email)
        taken.add(normalised)


def downgrade() -> None:
    """Nothing to undo: a normalised address is as valid under the old rule as under the new."""
