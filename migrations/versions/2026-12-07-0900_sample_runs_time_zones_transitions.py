"""sample runs, time zones and transitions announced once

Each assessment decides whether a sample run shows the candidate the grader's diagnoses
(`sample_run_diagnoses`, off: existing assessments are hiring tests). Each organization has the time zone
its times are shown in (`time_zone`, an IANA name; existing organizations keep UTC). An event announcing a
one-time transition carries its key (`transition_key`), unique within the organization, so the transition
is announced at most once.

Revision ID: 3e7b1c9d5a20
Revises: 9a1d4b7e2c60
Create Date: 2026-12-07 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3e7b1c9d5a20'
down_revision: str | Sequence[str] | None = '9a1d4b7e2c60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sample_run_diagnoses', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transition_key', sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_events_organization_id_transition_key'), ['organization_id', 'transition_key']
        )


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_events_organization_id_transition_key'), type_='unique')
        batch_op.drop_column('transition_key')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_column('sample_run_diagnoses')
