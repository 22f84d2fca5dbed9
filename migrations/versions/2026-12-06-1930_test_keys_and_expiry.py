"""test keys and expiry

API keys may expire (`expires_at`) and may be test keys (`test`), which act on the organization's test
data: an organization of its own pointing back at the live one (`live_organization_id`, unique).

Revision ID: 9a1d4b7e2c60
Revises: 5c2e8a4f7d31
Create Date: 2026-12-06 19:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '9a1d4b7e2c60'
down_revision: str | Sequence[str] | None = '5c2e8a4f7d31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('test', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('live_organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f('uq_organizations_live_organization_id'), ['live_organization_id']
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_organizations_live_organization_id_organizations'),
            'organizations',
            ['live_organization_id'],
            ['id'],
            ondelete='CASCADE',
        )


def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_organizations_live_organization_id_organizations'), type_='foreignkey'
        )
        batch_op.drop_constraint(batch_op.f('uq_organizations_live_organization_id'), type_='unique')
        batch_op.drop_column('live_organization_id')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('test')
