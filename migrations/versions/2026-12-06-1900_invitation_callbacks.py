"""invitation callbacks

A webhook endpoint may belong to one invitation (`invitation_id`, unique): the callback URL an HR system
gives when it creates the invitation, which hears only that invitation's events.

Revision ID: 5c2e8a4f7d31
Revises: 3f7b9e1d5a2c
Create Date: 2026-12-06 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5c2e8a4f7d31'
down_revision: str | Sequence[str] | None = '3f7b9e1d5a2c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invitation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_webhook_endpoints_invitation_id'), ['invitation_id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_webhook_endpoints_invitation_id_invitations'),
            'invitations',
            ['invitation_id'],
            ['id'],
            ondelete='CASCADE',
        )


def downgrade() -> None:
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_webhook_endpoints_invitation_id_invitations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_webhook_endpoints_invitation_id'), type_='unique')
        batch_op.drop_column('invitation_id')
