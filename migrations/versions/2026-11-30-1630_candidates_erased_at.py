"""candidates erased_at

When an owner erased a candidate's personal data (the row stays, anonymized, for the statistics).

Revision ID: 9eff17e968e3
Revises: a741627b3f7c
Create Date: 2026-11-30 16:30:16.393249+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '9eff17e968e3'
down_revision: str | Sequence[str] | None = 'a741627b3f7c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('candidates', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
