"""invitation token nonce

A link's token is now HMAC(secret key, nonce), so reminders can rebuild the link the candidate already
has. Existing invitations keep working (they are found by their token's digest) but have no nonce.

Revision ID: 93624e2ccce6
Revises: a6eea59ce400
Create Date: 2026-11-23 16:40:20.922990+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '93624e2ccce6'
down_revision: str | Sequence[str] | None = 'a6eea59ce400'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_nonce', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('token_nonce')
