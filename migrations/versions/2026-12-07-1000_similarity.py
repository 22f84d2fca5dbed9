"""similarity between coding submissions

A check per counted final submission (or per known solution an organization adds as a reference), the fingerprint index it is found by (`code_fingerprints`), how many
of a task's submissions hold each fingerprint (`fingerprint_counts`), the pairs found alike, and each
organization's threshold for flagging (existing organizations: 70 %). Attempts already scored get their
checks, which the worker runs a batch at a time.

Revision ID: 5c2f8a1e7d44
Revises: 3e7b1c9d5a20
Create Date: 2026-12-07 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5c2f8a1e7d44'
down_revision: str | Sequence[str] | None = '3e7b1c9d5a20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fingerprint_counts',
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.String(length=80), nullable=False),
    sa.Column('hash', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_fingerprint_counts_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organization_id', 'task_id', 'hash', name=op.f('pk_fingerprint_counts'))
    )
    op.create_table('similarity_checks',
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('submission_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('task_id', sa.String(length=80), nullable=False),
    sa.Column('reference_name', sa.String(length=200), nullable=True),
    sa.Column('reference_source', sa.Text(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('own_length', sa.Integer(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_similarity_checks_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_similarity_checks_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_similarity_checks')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_similarity_checks_submission_id'))
    )
    with op.batch_alter_table('similarity_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_similarity_checks_organization_id'), ['organization_id'], unique=False)

    op.create_table('code_fingerprints',
    sa.Column('check_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hash', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['similarity_checks.id'], name=op.f('fk_code_fingerprints_check_id_similarity_checks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_code_fingerprints_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('check_id', 'hash', name=op.f('pk_code_fingerprints'))
    )
    with op.batch_alter_table('code_fingerprints', schema=None) as batch_op:
        batch_op.create_index('ix_code_fingerprints_scope_hash', ['organization_id', 'task_id', 'hash'], unique=False)

    op.create_table('similarity_pairs',
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('first_check_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('second_check_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('first_share', sa.Double(), nullable=False),
    sa.Column('second_share', sa.Double(), nullable=False),
    sa.Column('first_ranges', sa.JSON(), nullable=False),
    sa.Column('second_ranges', sa.JSON(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['first_check_id'], ['similarity_checks.id'], name=op.f('fk_similarity_pairs_first_check_id_similarity_checks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_similarity_pairs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['second_check_id'], ['similarity_checks.id'], name=op.f('fk_similarity_pairs_second_check_id_similarity_checks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_similarity_pairs')),
    sa.UniqueConstraint('first_check_id', 'second_check_id', name=op.f('uq_similarity_pairs_first_check_id_second_check_id'))
    )
    with op.batch_alter_table('similarity_pairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_similarity_pairs_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_similarity_pairs_second_check_id'), ['second_check_id'], unique=False)

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('similarity_threshold', sa.Integer(), server_default='70', nullable=False))

    # Attempts scored before this release are checked too: a check for each one's counted code (the latest
    # final submission of each item), which the worker's reconciler then sends, a batch at a time.
    op.execute(
        """
        INSERT INTO similarity_checks (organization_id, submission_id, task_id, created_at)
        SELECT i.organization_id, s.id, s.task_id, CURRENT_TIMESTAMP
        FROM submissions s
        JOIN attempts a ON a.id = s.attempt_id
        JOIN invitations i ON i.id = a.invitation_id
        WHERE s.kind = 'final' AND a.scored_at IS NOT NULL AND s.source <> ''
          AND s.id = (
            SELECT max(s2.id) FROM submissions s2
            WHERE s2.attempt_id = s.attempt_id AND s2.item_id = s.item_id AND s2.kind = 'final'
          )
        """
    )



def downgrade() -> None:
    # Not a batch: SQLite would copy the organizations table, which every other table points at.
    op.drop_column('organizations', 'similarity_threshold')

    with op.batch_alter_table('similarity_pairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_similarity_pairs_second_check_id'))
        batch_op.drop_index(batch_op.f('ix_similarity_pairs_organization_id'))

    op.drop_table('similarity_pairs')
    with op.batch_alter_table('code_fingerprints', schema=None) as batch_op:
        batch_op.drop_index('ix_code_fingerprints_scope_hash')

    op.drop_table('code_fingerprints')
    with op.batch_alter_table('similarity_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_similarity_checks_organization_id'))

    op.drop_table('similarity_checks')
    op.drop_table('fingerprint_counts')
