"""answers last client

The browser tab whose save made an answer's current value, and that save's number, on the answer row: checked
under the row's lock, so a retry racing its own newer save cannot overwrite it. Backfilled from each answer's
latest revision. A tab's save numbers become 64-bit, as the API allows (up to 2**53).

Revision ID: a74f0d646b0d
Revises: 9eff17e968e3
Create Date: 2026-11-30 17:23:01.998571+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a74f0d646b0d'
down_revision: str | Sequence[str] | None = '9eff17e968e3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('answer_revisions', schema=None) as batch_op:
        batch_op.alter_column('client_seq', type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=True)
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_client_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_client_seq', sa.BigInteger(), nullable=True))
    latest = (
        "SELECT {column} FROM answer_revisions r WHERE r.answer_id = answers.id "
        "ORDER BY r.revision DESC LIMIT 1"
    )
    op.execute(
        f"UPDATE answers SET last_client_id = ({latest.format(column='client_id')}), "
        f"last_client_seq = ({latest.format(column='client_seq')})"
    )


def downgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_column('last_client_seq')
        batch_op.drop_column('last_client_id')
    with op.batch_alter_table('answer_revisions', schema=None) as batch_op:
        batch_op.alter_column('client_seq', type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=True)
