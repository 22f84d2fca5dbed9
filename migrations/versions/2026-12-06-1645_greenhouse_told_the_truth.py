"""greenhouse told the truth

Partner callbacks keep the partner's key sealed with the install's secret (`credentials`), so the PATCH to
Greenhouse authenticates as its documentation shows; invitations made for a partner request carry a digest
of that request's identity (`partner_ref`, unique per organization), so a repeated send_test gets the same
interview instead of a second invitation.

Revision ID: 3f7b9e1d5a2c
Revises: 8d4a6c2e9b1f
Create Date: 2026-12-06 16:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3f7b9e1d5a2c'
down_revision: str | Sequence[str] | None = '8d4a6c2e9b1f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('partner_callbacks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credentials', sa.Text(), nullable=True))
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_ref', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_invitations_organization_id_partner_ref'), ['organization_id', 'partner_ref']
        )


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_invitations_organization_id_partner_ref'), type_='unique')
        batch_op.drop_column('partner_ref')
    with op.batch_alter_table('partner_callbacks', schema=None) as batch_op:
        batch_op.drop_column('credentials')
