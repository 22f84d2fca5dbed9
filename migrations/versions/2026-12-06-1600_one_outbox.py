"""one outbox

Emails are retried like webhook deliveries and partner callbacks (app.outbox): the retry schedule lives in
the row (`next_attempt_at`), not in the broker's backoff, so a Redis flush loses nothing and a message
created while Redis is down goes at the next outbox sweep instead of after a 15-minute lease. The columns
take the shared names (`tries` -> `attempt_count`, `sent_at` -> `delivered_at`) and statuses (queued ->
pending, sent -> succeeded, outbox_only -> held); queued messages are due at once.

Revision ID: 8d4a6c2e9b1f
Revises: 5c1e2d9f0a7b
Create Date: 2026-12-06 16:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '8d4a6c2e9b1f'
down_revision: str | Sequence[str] | None = '5c1e2d9f0a7b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = {'queued': 'pending', 'sent': 'succeeded', 'failed': 'failed', 'outbox_only': 'held'}
OLD_STATUS = sa.Enum(*STATUSES, name='emailstatus', native_enum=False, length=15)
NEW_STATUS = sa.Enum(*dict.fromkeys(STATUSES.values()), name='deliverystatus', native_enum=False, length=13)
messages = sa.table(
    'email_messages',
    sa.column('status', sa.String()),
    sa.column('next_attempt_at', sa.DateTime(timezone=True)),
    sa.column('lease_until', sa.DateTime(timezone=True)),
    sa.column('created_at', sa.DateTime(timezone=True)),
)


def _rename_statuses(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        if old != new:
            op.execute(messages.update().where(messages.c.status == old).values(status=new))


def upgrade() -> None:
    _rename_statuses(STATUSES)
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.alter_column('tries', new_column_name='attempt_count')
        batch_op.alter_column('sent_at', new_column_name='delivered_at')
        batch_op.alter_column('status', existing_type=OLD_STATUS, type_=NEW_STATUS, existing_nullable=False)
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_status_code', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_email_messages_status'), ['status'], unique=False)
    op.execute(
        messages.update()
        .where(messages.c.status == 'pending')
        .values(next_attempt_at=messages.c.created_at, lease_until=None)
    )


def downgrade() -> None:
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_messages_status'))
        batch_op.drop_column('last_status_code')
        batch_op.drop_column('next_attempt_at')
        batch_op.alter_column('status', existing_type=NEW_STATUS, type_=OLD_STATUS, existing_nullable=False)
        batch_op.alter_column('delivered_at', new_column_name='sent_at')
        batch_op.alter_column('attempt_count', new_column_name='tries')
    _rename_statuses({new: old for old, new in STATUSES.items()})
    op.execute(messages.update().where(messages.c.status == 'queued').values(lease_until=messages.c.created_at))
