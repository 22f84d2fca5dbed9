"""one score summary

The attempt's score is one summary written by app.results.scoring after every change (close, code graded, a
written answer scored, a grading retried): points earned (automatic and scored by hand alike), the
maximum, and how many answers still wait for a person or for the grader. It replaces `auto_score` (the
automatic points only, which Greenhouse, webhooks and exports read while the report read another total) and
the `needs_manual_review` flag. Backfilled from each closed attempt's answers and manual scores, by the rule
the scoring module applies.

Revision ID: 5c1e2d9f0a7b
Revises: a74f0d646b0d
Create Date: 2026-12-04 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5c1e2d9f0a7b'
down_revision: str | Sequence[str] | None = 'a74f0d646b0d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

attempts = sa.table(
    'attempts',
    sa.column('id', sa.Integer()),
    sa.column('closed_at', sa.DateTime()),
    sa.column('score', sa.Double()),
    sa.column('auto_score', sa.Double()),
    sa.column('needs_manual_review', sa.Boolean()),
    sa.column('review_pending', sa.Integer()),
    sa.column('grading_pending', sa.Integer()),
)
answers = sa.table(
    'answers',
    sa.column('attempt_id', sa.Integer()),
    sa.column('item_id', sa.Integer()),
    sa.column('value', sa.JSON()),
    sa.column('auto_points', sa.Double()),
)
manual_scores = sa.table(
    'manual_scores', sa.column('attempt_id', sa.Integer()), sa.column('item_id', sa.Integer()), sa.column('points', sa.Double())
)
items = sa.table('assessment_items', sa.column('id', sa.Integer()), sa.column('question_version_id', sa.Integer()))
versions = sa.table('question_versions', sa.column('id', sa.Integer()), sa.column('type', sa.String()))


def upgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('review_pending', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('grading_pending', sa.Integer(), nullable=False, server_default='0'))
    connection = op.get_bind()
    kind = (
        sa.select(answers.c.attempt_id, answers.c.item_id, answers.c.value, answers.c.auto_points, versions.c.type)
        .join(items, items.c.id == answers.c.item_id)
        .join(versions, versions.c.id == items.c.question_version_id)
    )
    scored_by_hand = {(row.attempt_id, row.item_id): row.points for row in connection.execute(sa.select(manual_scores))}
    closed = {row.id for row in connection.execute(sa.select(attempts.c.id).where(attempts.c.closed_at.is_not(None)))}
    summary: dict[int, list[float]] = {attempt_id: [0.0, 0, 0] for attempt_id in closed}
    for row in connection.execute(kind):
        if row.attempt_id not in summary:
            continue
        totals = summary[row.attempt_id]
        if row.type == 'written':
            points = scored_by_hand.pop((row.attempt_id, row.item_id), None)
            if points is not None:
                totals[0] += points
            elif ((row.value or {}).get('text') or '').strip():
                totals[1] += 1  # written, not scored yet
        elif row.auto_points is not None:
            totals[0] += row.auto_points
        elif row.type == 'coding':
            totals[2] += 1  # with the grader
    for (attempt_id, _), points in scored_by_hand.items():  # scored by hand, though nothing was written
        if attempt_id in summary:
            summary[attempt_id][0] += points
    for attempt_id, (score, review, grading) in summary.items():
        connection.execute(
            attempts.update()
            .where(attempts.c.id == attempt_id)
            .values(score=score, review_pending=review, grading_pending=grading)
        )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('auto_score')
        batch_op.drop_column('needs_manual_review')


def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_score', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('needs_manual_review', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE attempts SET auto_score = (SELECT COALESCE(SUM(auto_points), 0) FROM answers"
        " WHERE answers.attempt_id = attempts.id) WHERE closed_at IS NOT NULL"
    )
    op.execute("UPDATE attempts SET needs_manual_review = (review_pending > 0)")
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('grading_pending')
        batch_op.drop_column('review_pending')
        batch_op.drop_column('score')
