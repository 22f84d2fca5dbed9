"""autosave ordering per browser tab

Each save now carries the tab's client id and sequence number, kept on the revision it created; an answer
counts its accepted saves as `revision`. The attempt-wide `last_seq` goes: one counter for the whole
attempt made a second tab's saves look stale.

Revision ID: a6eea59ce400
Revises: 0904088bbbd1
Create Date: 2026-11-23 15:24:22.317151+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a6eea59ce400'
down_revision: str | Sequence[str] | None = '0904088bbbd1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('answer_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('client_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('client_seq', sa.Integer(), nullable=True))
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=True))
    # Existing history keeps its order: revisions are numbered by their old attempt-wide sequence.
    op.execute(
        "UPDATE answer_revisions SET revision = (SELECT COUNT(*) FROM answer_revisions r"
        " WHERE r.answer_id = answer_revisions.answer_id AND r.seq <= answer_revisions.seq)"
    )
    op.execute(
        "UPDATE answers SET revision = (SELECT COUNT(*) FROM answer_revisions r WHERE r.answer_id = answers.id)"
    )
    op.execute("UPDATE answers SET revision = 1 WHERE revision = 0")
    with op.batch_alter_table('answer_revisions', schema=None) as batch_op:
        batch_op.alter_column('revision', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(batch_op.f('ix_answer_revisions_answer_id'))
        batch_op.create_index(
            'ix_answer_revisions_answer_client', ['answer_id', 'client_id', 'client_seq'], unique=False
        )
        batch_op.drop_column('seq')
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.alter_column('revision', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('seq')
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('last_seq')


def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seq', sa.INTEGER(), nullable=False, server_default='0'))
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.INTEGER(), nullable=True))
    with op.batch_alter_table('answer_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.INTEGER(), nullable=True))
    op.execute("UPDATE answer_revisions SET seq = revision")
    op.execute("UPDATE answers SET seq = revision")
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('revision')
    with op.batch_alter_table('answer_revisions', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_index('ix_answer_revisions_answer_client')
        batch_op.create_index(batch_op.f('ix_answer_revisions_answer_id'), ['answer_id'], unique=False)
        batch_op.drop_column('client_seq')
        batch_op.drop_column('client_id')
        batch_op.drop_column('revision')
