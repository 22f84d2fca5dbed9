"""schedule ticks and email leases

Periodic jobs claim their next firing in `schedule_ticks`, so several workers never fire one twice; a
queued email records when the reconciler may send it again if its broker message was lost.

Revision ID: a741627b3f7c
Revises: 1af831318c90
Create Date: 2026-11-30 12:42:05.034318+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a741627b3f7c'
down_revision: str | Sequence[str] | None = '1af831318c90'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('schedule_ticks',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_schedule_ticks'))
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
    # Messages queued before this revision: due for the reconciler's next look.
    op.execute("UPDATE email_messages SET lease_until = created_at WHERE status = 'queued'")



def downgrade() -> None:
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_column('lease_until')

    op.drop_table('schedule_ticks')
